// Reads the JSON Schema printed by `openclaw config schema` on stdin and prints it compact on
// stdout without its annotations (title, description, examples, default, $comment, markdown
// hints): what the operator embeds (crates/versions/schemas/) to check configs the way that
// OpenClaw version does. Only schema keywords are dropped, never a property that happens to be
// called "title" or "description": the walk follows the keywords that hold subschemas.
//
// The schema describes OpenClaw's parsed config, where a property with a default is always
// present, so it lists such properties as `required`. In the file a user writes they are
// optional (OpenClaw fills in the default): they are taken out of `required`.
"use strict";

const ANNOTATIONS = new Set(["title", "description", "examples", "default", "$comment", "markdownDescription", "deprecated", "readOnly", "writeOnly"]);
const ONE = ["additionalProperties", "items", "not", "if", "then", "else", "propertyNames", "contains", "additionalItems", "unevaluatedProperties", "unevaluatedItems"];
const LIST = ["anyOf", "oneOf", "allOf", "prefixItems"];
const MAP = ["properties", "patternProperties", "definitions", "$defs", "dependencies", "dependentSchemas"];

function strip(schema) {
  if (Array.isArray(schema)) return schema.map(strip); // draft-07 tuple `items`
  if (schema === null || typeof schema !== "object") return schema; // true / false
  const out = {};
  const props = schema.properties && typeof schema.properties === "object" ? schema.properties : {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === "required" && Array.isArray(value)) {
      const kept = value.filter((name) => !(props[name] && typeof props[name] === "object" && "default" in props[name]));
      if (kept.length > 0) out.required = kept;
      continue;
    }
    if (ANNOTATIONS.has(key)) continue;
    if (ONE.includes(key)) out[key] = strip(value);
    else if (LIST.includes(key) && Array.isArray(value)) out[key] = value.map(strip);
    else if (MAP.includes(key) && value && typeof value === "object" && !Array.isArray(value)) {
      const m = {};
      for (const [name, sub] of Object.entries(value)) m[name] = Array.isArray(sub) ? sub : strip(sub);
      out[key] = m;
    } else out[key] = value;
  }
  return out;
}

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (c) => (input += c));
process.stdin.on("end", () => {
  const start = input.indexOf("{");
  if (start < 0) {
    console.error("schema-strip: no JSON object on stdin");
    process.exit(1);
  }
  process.stdout.write(JSON.stringify(strip(JSON.parse(input.slice(start)))) + "\n");
});
