//! OpenClaw's config schema for one version (the JSON Schema, draft-07, that
//! `openclaw config schema` prints), and checks of an `openclaw.json` against it that report
//! issues the way `openclaw config validate` does: OpenClaw's dotted path (`agents.defaults`)
//! and its wording (`Unrecognized key: "bogus"`, `Invalid input: expected number, received
//! string`).
//!
//! The schema is read straight from its text into a compact tree ([`Node`]s in one vector, keys
//! interned): about 1 MiB per version resident, where a general JSON Schema library kept about
//! 30 MiB (the parsed document plus a compiled validator per subschema). Only the keywords
//! OpenClaw's schemas use are interpreted; `format` is not checked (OpenClaw checks none of its
//! formats strictly), annotations are skipped. Patterns (ECMAScript syntax) are compiled on first
//! use; a pattern the engine cannot compile never fails a value.

use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::sync::{Arc, Mutex, PoisonError};

use flate2::read::GzDecoder;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// One reason a config does not conform, as OpenClaw would report it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Issue {
    /// Dotted path of the offending value (`gateway.port`), `<root>` for the root.
    pub path: String,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() || self.path == ROOT {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// The embedded schema could not be used (a broken build, never the user's input).
#[derive(Clone, Debug, thiserror::Error)]
#[error("the embedded config schema of OpenClaw {version} is unusable: {reason}")]
pub struct SchemaError {
    version: String,
    reason: String,
}

/// OpenClaw's name of the config's root in an issue's path.
pub const ROOT: &str = "<root>";

/// Most issues reported for one config (the rest are summarised).
const MAX_ISSUES: usize = 20;

type NodeId = u32;
type Sym = u32;

const T_NULL: u8 = 1;
const T_BOOL: u8 = 2;
const T_OBJECT: u8 = 4;
const T_ARRAY: u8 = 8;
const T_NUMBER: u8 = 16;
const T_STRING: u8 = 32;
const T_INTEGER: u8 = 64;

/// `additionalProperties`.
#[derive(Clone, Copy, Debug, Default)]
enum Additional {
    #[default]
    Any,
    Never,
    Schema(NodeId),
}

/// Rarely used keywords, boxed so that a plain node stays small.
#[derive(Debug, Default)]
struct Rare {
    enum_values: Option<Box<[Value]>>,
    const_value: Option<Value>,
    all_of: Box<[NodeId]>,
    not: Option<NodeId>,
    if_then_else: Option<(NodeId, Option<NodeId>, Option<NodeId>)>,
    tuple: Box<[NodeId]>,
    pattern_properties: Box<[(Sym, NodeId)]>,
    property_names: Option<NodeId>,
    reference: Option<Box<str>>,
    minimum: Option<f64>,
    maximum: Option<f64>,
    exclusive_minimum: Option<f64>,
    exclusive_maximum: Option<f64>,
    min_length: Option<u64>,
    max_length: Option<u64>,
    min_items: Option<u64>,
    max_items: Option<u64>,
    min_properties: Option<u64>,
    max_properties: Option<u64>,
    unique_items: bool,
    multiple_of: Option<f64>,
}

/// One (sub)schema.
#[derive(Debug, Default)]
struct Node {
    /// `false` schema: nothing is valid.
    never: bool,
    /// Allowed types (bits); 0: any.
    types: u8,
    /// `properties`, sorted by key.
    properties: Box<[(Sym, NodeId)]>,
    additional: Additional,
    required: Box<[Sym]>,
    any_of: Box<[NodeId]>,
    items: Option<NodeId>,
    pattern: Option<Sym>,
    rare: Option<Box<Rare>>,
}

/// One version's config schema.
pub struct Schema {
    nodes: Vec<Node>,
    /// Interned keys and patterns.
    syms: Vec<Box<str>>,
    /// Resolved `$ref`s: node → target.
    refs: HashMap<NodeId, NodeId>,
    /// Compiled patterns (on first use; `None`: not compilable here).
    regexes: Mutex<HashMap<Sym, Option<Arc<fancy_regex::Regex>>>>,
    /// The schema that allows anything (an id out of range).
    empty: Node,
}

impl fmt::Debug for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Schema({} nodes)", self.nodes.len())
    }
}

// ---------------------------------------------------------------------------------------------
// Reading

#[derive(Default)]
struct Builder {
    nodes: Vec<Node>,
    syms: Vec<Box<str>>,
    sym_ids: HashMap<Box<str>, Sym>,
    /// JSON pointer segments of the node being read.
    pointer: Vec<String>,
    /// Nodes directly under `$defs`/`definitions`, by absolute pointer.
    defs: HashMap<String, NodeId>,
    /// `$ref`s to resolve: (node holding it, pointer of that node).
    pending: Vec<(NodeId, String)>,
}

impl Builder {
    fn sym(&mut self, s: &str) -> Sym {
        if let Some(id) = self.sym_ids.get(s) {
            return *id;
        }
        let id = self.syms.len() as Sym;
        self.syms.push(s.into());
        self.sym_ids.insert(s.into(), id);
        id
    }

    fn pointer_string(&self) -> String {
        self.pointer
            .iter()
            .map(|s| format!("/{}", s.replace('~', "~0").replace('/', "~1")))
            .collect()
    }
}

/// Reads one schema (object or boolean) into the builder; yields its node id.
struct NodeSeed<'b>(&'b mut Builder);

impl<'de> DeserializeSeed<'de> for NodeSeed<'_> {
    type Value = NodeId;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<NodeId, D::Error> {
        d.deserialize_any(self)
    }
}

/// Reads `{name: schema}` into a sorted list (`defs`: also record each entry's pointer).
struct MapSeed<'b> {
    b: &'b mut Builder,
    keyword: &'static str,
    defs: bool,
}

impl<'de> DeserializeSeed<'de> for MapSeed<'_> {
    type Value = Vec<(Sym, NodeId)>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for MapSeed<'_> {
    type Value = Vec<(Sym, NodeId)>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map of schemas")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        self.b.pointer.push(self.keyword.to_string());
        while let Some(key) = map.next_key::<String>()? {
            self.b.pointer.push(key.clone());
            let id = map.next_value_seed(NodeSeed(self.b))?;
            if self.defs {
                let p = self.b.pointer_string();
                self.b.defs.insert(p, id);
            }
            self.b.pointer.pop();
            let sym = self.b.sym(&key);
            out.push((sym, id));
        }
        self.b.pointer.pop();
        Ok(out)
    }
}

/// Reads a list of schemas.
struct ListSeed<'b>(&'b mut Builder, &'static str);

impl<'de> DeserializeSeed<'de> for ListSeed<'_> {
    type Value = Vec<NodeId>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ListSeed<'_> {
    type Value = Vec<NodeId>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of schemas")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        self.0.pointer.push(self.1.to_string());
        let mut i = 0usize;
        loop {
            self.0.pointer.push(i.to_string());
            let next = seq.next_element_seed(NodeSeed(self.0))?;
            self.0.pointer.pop();
            match next {
                Some(id) => out.push(id),
                None => break,
            }
            i += 1;
        }
        self.0.pointer.pop();
        Ok(out)
    }
}

/// `items`: one schema or (draft-07 tuples) a list.
enum Items {
    One(NodeId),
    Tuple(Vec<NodeId>),
}

struct ItemsSeed<'b>(&'b mut Builder);

impl<'de> DeserializeSeed<'de> for ItemsSeed<'_> {
    type Value = Items;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Items, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ItemsSeed<'_> {
    type Value = Items;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a schema or a list of schemas")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Items, A::Error> {
        ListSeed(self.0, "items").visit_seq(seq).map(Items::Tuple)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Items, A::Error> {
        self.0.pointer.push("items".into());
        let r = NodeSeed(self.0).visit_map(map).map(Items::One);
        self.0.pointer.pop();
        r
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Items, E> {
        NodeSeed(self.0).visit_bool(v).map(Items::One)
    }
}

fn type_bits(name: &str) -> u8 {
    match name {
        "null" => T_NULL,
        "boolean" => T_BOOL,
        "object" => T_OBJECT,
        "array" => T_ARRAY,
        "number" => T_NUMBER,
        "string" => T_STRING,
        "integer" => T_INTEGER,
        _ => 0,
    }
}

/// Rewrites the ECMAScript escape `\0` (NUL), which the pattern engine does not know, as `\x00`.
fn rust_pattern(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    let mut chars = p.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('0') if !chars.peek().is_some_and(char::is_ascii_digit) => out.push_str("\\x00"),
            Some(n) => {
                out.push('\\');
                out.push(n);
            }
            None => out.push('\\'),
        }
    }
    out
}

impl<'de> Visitor<'de> for NodeSeed<'_> {
    type Value = NodeId;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON schema")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<NodeId, E> {
        let id = self.0.nodes.len() as NodeId;
        self.0.nodes.push(Node {
            never: !v,
            ..Node::default()
        });
        Ok(id)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NodeId, A::Error> {
        let b = self.0;
        // Reserve the id first, so that ids follow document order.
        let id = b.nodes.len() as NodeId;
        b.nodes.push(Node::default());
        let mut node = Node::default();
        let mut rare = Rare::default();
        let mut has_rare = false;
        let num = |v: &Value| v.as_f64();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "type" => {
                    node.types = match map.next_value::<Value>()? {
                        Value::String(s) => type_bits(&s),
                        Value::Array(list) => list
                            .iter()
                            .filter_map(Value::as_str)
                            .fold(0, |acc, s| acc | type_bits(s)),
                        _ => 0,
                    };
                }
                "properties" => {
                    let mut props = map.next_value_seed(MapSeed {
                        b,
                        keyword: "properties",
                        defs: false,
                    })?;
                    props.sort_by(|x, y| b.syms[x.0 as usize].cmp(&b.syms[y.0 as usize]));
                    node.properties = props.into_boxed_slice();
                }
                "patternProperties" => {
                    let pp = map.next_value_seed(MapSeed {
                        b,
                        keyword: "patternProperties",
                        defs: false,
                    })?;
                    let fixed: Vec<(Sym, NodeId)> = pp
                        .into_iter()
                        .map(|(s, n)| {
                            let p = rust_pattern(&b.syms[s as usize].clone());
                            (b.sym(&p), n)
                        })
                        .collect();
                    rare.pattern_properties = fixed.into_boxed_slice();
                    has_rare = true;
                }
                "$defs" | "definitions" => {
                    let keyword = if key == "$defs" {
                        "$defs"
                    } else {
                        "definitions"
                    };
                    map.next_value_seed(MapSeed {
                        b,
                        keyword,
                        defs: true,
                    })?;
                }
                "additionalProperties" => {
                    b.pointer.push(key.clone());
                    let sub = map.next_value_seed(NodeSeed(b))?;
                    b.pointer.pop();
                    let n = &b.nodes[sub as usize];
                    node.additional = if n.never {
                        Additional::Never
                    } else {
                        Additional::Schema(sub)
                    };
                }
                "required" => {
                    let list: Vec<String> = map.next_value()?;
                    node.required = list.iter().map(|s| b.sym(s)).collect();
                }
                "anyOf" | "oneOf" => {
                    let k = if key == "anyOf" { "anyOf" } else { "oneOf" };
                    let mut list = map.next_value_seed(ListSeed(b, k))?;
                    let mut all = node.any_of.to_vec();
                    all.append(&mut list);
                    node.any_of = all.into_boxed_slice();
                }
                "allOf" => {
                    rare.all_of = map
                        .next_value_seed(ListSeed(b, "allOf"))?
                        .into_boxed_slice();
                    has_rare = true;
                }
                "items" => match map.next_value_seed(ItemsSeed(b))? {
                    Items::One(n) => node.items = Some(n),
                    Items::Tuple(list) => {
                        rare.tuple = list.into_boxed_slice();
                        has_rare = true;
                    }
                },
                "not" | "if" | "then" | "else" | "propertyNames" => {
                    b.pointer.push(key.clone());
                    let sub = map.next_value_seed(NodeSeed(b))?;
                    b.pointer.pop();
                    let ite = rare.if_then_else.get_or_insert((NodeId::MAX, None, None));
                    match key.as_str() {
                        "not" => rare.not = Some(sub),
                        "if" => ite.0 = sub,
                        "then" => ite.1 = Some(sub),
                        "else" => ite.2 = Some(sub),
                        _ => rare.property_names = Some(sub),
                    }
                    if rare
                        .if_then_else
                        .is_some_and(|t| t.0 == NodeId::MAX && t.1.is_none() && t.2.is_none())
                    {
                        rare.if_then_else = None;
                    }
                    has_rare = true;
                }
                "pattern" => {
                    if let Value::String(p) = map.next_value::<Value>()? {
                        node.pattern = Some(b.sym(&rust_pattern(&p)));
                    }
                }
                "$ref" => {
                    if let Value::String(r) = map.next_value::<Value>()? {
                        rare.reference = Some(r.into_boxed_str());
                        has_rare = true;
                        b.pending.push((id, b.pointer_string()));
                    }
                }
                "enum" => {
                    if let Value::Array(list) = map.next_value::<Value>()? {
                        rare.enum_values = Some(list.into_boxed_slice());
                        has_rare = true;
                    }
                }
                "const" => {
                    rare.const_value = Some(map.next_value::<Value>()?);
                    has_rare = true;
                }
                "minimum" | "maximum" | "exclusiveMinimum" | "exclusiveMaximum" | "multipleOf" => {
                    let v = num(&map.next_value::<Value>()?);
                    match key.as_str() {
                        "minimum" => rare.minimum = v,
                        "maximum" => rare.maximum = v,
                        "exclusiveMinimum" => rare.exclusive_minimum = v,
                        "exclusiveMaximum" => rare.exclusive_maximum = v,
                        _ => rare.multiple_of = v,
                    }
                    has_rare = true;
                }
                "minLength" | "maxLength" | "minItems" | "maxItems" | "minProperties"
                | "maxProperties" => {
                    let v = map.next_value::<Value>()?.as_u64();
                    match key.as_str() {
                        "minLength" => rare.min_length = v,
                        "maxLength" => rare.max_length = v,
                        "minItems" => rare.min_items = v,
                        "maxItems" => rare.max_items = v,
                        "minProperties" => rare.min_properties = v,
                        _ => rare.max_properties = v,
                    }
                    has_rare = true;
                }
                "uniqueItems" => {
                    rare.unique_items = map.next_value::<Value>()? == Value::Bool(true);
                    has_rare = true;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if has_rare {
            node.rare = Some(Box::new(rare));
        }
        b.nodes[id as usize] = node;
        Ok(id)
    }
}

impl Schema {
    pub(crate) fn from_gzip(version: &str, gz: &[u8]) -> Result<Self, SchemaError> {
        let err = |reason: String| SchemaError {
            version: version.to_string(),
            reason,
        };
        let mut text = String::new();
        GzDecoder::new(gz)
            .read_to_string(&mut text)
            .map_err(|e| err(format!("decompressing: {e}")))?;
        Self::parse(&text).map_err(err)
    }

    /// Reads a schema from its JSON text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut b = Builder::default();
        let mut de = serde_json::Deserializer::from_str(text);
        NodeSeed(&mut b)
            .deserialize(&mut de)
            .map_err(|e| format!("parsing: {e}"))?;
        de.end().map_err(|e| format!("parsing: {e}"))?;
        let mut refs = HashMap::new();
        for (node, at) in std::mem::take(&mut b.pending) {
            let Some(reference) = b.nodes[node as usize]
                .rare
                .as_ref()
                .and_then(|r| r.reference.as_deref())
            else {
                continue;
            };
            let Some(rel) = reference.strip_prefix('#') else {
                return Err(format!("unsupported $ref {reference:?}"));
            };
            // Embedded plugin schemas refer to their own root: try the nearest enclosing
            // schema that defines the target, then the document's root.
            let mut base = at.as_str();
            let target = loop {
                if let Some(t) = b.defs.get(&format!("{base}{rel}")) {
                    break Some(*t);
                }
                match base.rfind('/') {
                    Some(i) => base = &base[..i],
                    None => break None,
                }
            };
            match target {
                Some(t) => {
                    refs.insert(node, t);
                }
                None => return Err(format!("$ref {reference:?} at {at} does not resolve")),
            }
        }
        let mut nodes = b.nodes;
        nodes.shrink_to_fit();
        let mut syms = b.syms;
        syms.shrink_to_fit();
        Ok(Schema {
            nodes,
            syms,
            refs,
            regexes: Mutex::new(HashMap::new()),
            empty: Node::default(),
        })
    }

    fn node(&self, id: NodeId) -> &Node {
        self.nodes.get(id as usize).unwrap_or(&self.empty)
    }

    fn sym(&self, s: Sym) -> &str {
        self.syms.get(s as usize).map_or("", |b| b)
    }

    fn property(&self, node: &Node, key: &str) -> Option<NodeId> {
        node.properties
            .binary_search_by(|(s, _)| self.sym(*s).cmp(key))
            .ok()
            .map(|i| node.properties[i].1)
    }

    fn matches(&self, pattern: Sym, text: &str) -> bool {
        let regex = {
            let mut cache = self.regexes.lock().unwrap_or_else(PoisonError::into_inner);
            cache
                .entry(pattern)
                .or_insert_with(|| {
                    fancy_regex::Regex::new(self.sym(pattern))
                        .ok()
                        .map(Arc::new)
                })
                .clone()
        };
        // A pattern the engine cannot compile or evaluate never fails a value.
        regex.is_none_or(|r| r.is_match(text).unwrap_or(true))
    }

    /// Every issue of `config`, sorted by path, at most [`MAX_ISSUES`] (then one more that says
    /// how many were left out). Empty when the config conforms.
    pub fn check(&self, config: &Value) -> Vec<Issue> {
        let mut issues = Vec::new();
        let mut path = Vec::new();
        self.validate(0, config, &mut path, &mut issues);
        issues.sort();
        issues.dedup();
        if issues.len() > MAX_ISSUES {
            let more = issues.len() - MAX_ISSUES;
            issues.truncate(MAX_ISSUES);
            issues.push(Issue {
                path: ROOT.to_string(),
                message: format!("... and {more} more issues"),
            });
        }
        issues
    }

    /// Whether an object may hold the key at `path`, as far as the schema says: each segment
    /// must be a declared property (or allowed by `additionalProperties` /
    /// `patternProperties`) of an object schema, looking through unions. Used to add only keys
    /// a version knows.
    pub fn accepts(&self, path: &[&str]) -> bool {
        let mut node = 0;
        for key in path {
            match self.child_schema(node, key, 0) {
                Some(next) => node = next,
                None => return false,
            }
        }
        true
    }

    /// The schema of property `key` of node `id`: declared, pattern, additional, through unions
    /// and references.
    fn child_schema(&self, id: NodeId, key: &str, depth: u8) -> Option<NodeId> {
        if depth > 16 {
            return None;
        }
        let id = self.refs.get(&id).copied().unwrap_or(id);
        let node = self.node(id);
        if let Some(p) = self.property(node, key) {
            return Some(p);
        }
        for branch in node
            .any_of
            .iter()
            .chain(node.rare.iter().flat_map(|r| r.all_of.iter()))
        {
            if let Some(found) = self.child_schema(*branch, key, depth + 1) {
                return Some(found);
            }
        }
        if let Some(r) = &node.rare {
            for (pattern, sub) in r.pattern_properties.iter() {
                if self.matches(*pattern, key) {
                    return Some(*sub);
                }
            }
        }
        match node.additional {
            Additional::Never => None,
            Additional::Schema(sub) => Some(sub),
            Additional::Any if node.types & T_OBJECT != 0 => Some(NodeId::MAX),
            Additional::Any => None,
        }
    }

    fn validate(&self, id: NodeId, value: &Value, path: &mut Vec<String>, out: &mut Vec<Issue>) {
        if id == NodeId::MAX {
            return;
        }
        let node = self.node(id);
        let here = |path: &Vec<String>| dotted(path);
        if node.never {
            out.push(Issue {
                path: here(path),
                message: "Invalid input".to_string(),
            });
            return;
        }
        if let Some(target) = self.refs.get(&id) {
            self.validate(*target, value, path, out);
        }
        let kind = json_kind(value);
        if node.types != 0 && !type_matches(node.types, value) {
            let expected = type_names(node.types, kind);
            let allowed = if expected == "boolean" {
                " (allowed: true, false)"
            } else {
                ""
            };
            out.push(Issue {
                path: here(path),
                message: format!("Invalid input: expected {expected}, received {kind}{allowed}"),
            });
            return;
        }
        if let Some(r) = &node.rare {
            self.validate_rare(r, value, path, out);
        }
        if !node.any_of.is_empty() {
            self.validate_union(&node.any_of, value, path, out);
        }
        match value {
            Value::Object(map) => {
                for key in node.required.iter() {
                    let key = self.sym(*key);
                    if !map.contains_key(key) {
                        path.push(key.to_string());
                        out.push(Issue {
                            path: here(path),
                            message: "Invalid input: expected a value, received undefined"
                                .to_string(),
                        });
                        path.pop();
                    }
                }
                let mut unexpected = Vec::new();
                for (key, v) in map {
                    let sub = self.property(node, key).or_else(|| {
                        node.rare.as_ref().and_then(|r| {
                            r.pattern_properties
                                .iter()
                                .find(|(p, _)| self.matches(*p, key))
                                .map(|(_, n)| *n)
                        })
                    });
                    let sub = match (sub, node.additional) {
                        (Some(s), _) => s,
                        (None, Additional::Schema(s)) => s,
                        (None, Additional::Any) => continue,
                        (None, Additional::Never) => {
                            unexpected.push(format!("{key:?}"));
                            continue;
                        }
                    };
                    path.push(key.clone());
                    self.validate(sub, v, path, out);
                    path.pop();
                }
                if !unexpected.is_empty() {
                    let p = here(path);
                    let message = if is_channel(&p) {
                        format!(
                            "invalid config: must not have additional properties: {}",
                            unexpected.join(", ")
                        )
                    } else {
                        let noun = if unexpected.len() == 1 { "key" } else { "keys" };
                        format!("Unrecognized {noun}: {}", unexpected.join(", "))
                    };
                    out.push(Issue { path: p, message });
                }
            }
            Value::Array(items) => {
                let tuple = node.rare.as_ref().map(|r| &r.tuple[..]).unwrap_or(&[]);
                for (i, item) in items.iter().enumerate() {
                    let sub = tuple.get(i).copied().or(node.items);
                    if let Some(sub) = sub {
                        path.push(i.to_string());
                        self.validate(sub, item, path, out);
                        path.pop();
                    }
                }
            }
            Value::String(s) => {
                if let Some(p) = node.pattern
                    && !self.matches(p, s)
                {
                    out.push(Issue {
                        path: here(path),
                        message: format!("Invalid string: must match pattern /{}/", self.sym(p)),
                    });
                }
            }
            _ => {}
        }
    }

    fn validate_rare(&self, r: &Rare, value: &Value, path: &mut Vec<String>, out: &mut Vec<Issue>) {
        let here = dotted(path);
        let mut fail = |message: String| {
            out.push(Issue {
                path: here.clone(),
                message,
            })
        };
        if let Some(options) = &r.enum_values
            && !options.iter().any(|o| o == value)
        {
            let list = options.iter().map(Value::to_string).collect::<Vec<_>>();
            fail(format!("Invalid input (allowed: {})", list.join(", ")));
        }
        if let Some(c) = &r.const_value
            && c != value
        {
            fail(format!("Invalid input: expected {c}"));
        }
        if let Some(n) = value.as_f64() {
            if let Some(m) = r.minimum
                && n < m
            {
                fail(format!(
                    "Too small: expected number to be >={}",
                    num_text(m)
                ));
            }
            if let Some(m) = r.exclusive_minimum
                && n <= m
            {
                fail(format!("Too small: expected number to be >{}", num_text(m)));
            }
            if let Some(m) = r.maximum
                && n > m
            {
                fail(format!("Too big: expected number to be <={}", num_text(m)));
            }
            if let Some(m) = r.exclusive_maximum
                && n >= m
            {
                fail(format!("Too big: expected number to be <{}", num_text(m)));
            }
            if let Some(m) = r.multiple_of
                && m > 0.0
                && (n / m).fract().abs() > 1e-9
            {
                fail(format!(
                    "Invalid number: must be a multiple of {}",
                    num_text(m)
                ));
            }
        }
        if let Value::String(s) = value {
            let len = s.chars().count() as u64;
            if let Some(m) = r.min_length
                && len < m
            {
                fail(format!(
                    "Too small: expected string to have >={m} characters"
                ));
            }
            if let Some(m) = r.max_length
                && len > m
            {
                fail(format!("Too big: expected string to have <={m} characters"));
            }
        }
        if let Value::Array(items) = value {
            let len = items.len() as u64;
            if let Some(m) = r.min_items
                && len < m
            {
                fail(format!("Too small: expected array to have >={m} items"));
            }
            if let Some(m) = r.max_items
                && len > m
            {
                fail(format!("Too big: expected array to have <={m} items"));
            }
            if r.unique_items
                && items
                    .iter()
                    .enumerate()
                    .any(|(i, a)| items[..i].contains(a))
            {
                fail("Invalid input: array items must be unique".to_string());
            }
        }
        if let Value::Object(map) = value {
            let len = map.len() as u64;
            if let Some(m) = r.min_properties
                && len < m
            {
                fail(format!("Too small: expected object to have >={m} keys"));
            }
            if let Some(m) = r.max_properties
                && len > m
            {
                fail(format!("Too big: expected object to have <={m} keys"));
            }
            if let Some(names) = r.property_names {
                for key in map.keys() {
                    let mut inner = Vec::new();
                    self.validate(
                        names,
                        &Value::String(key.clone()),
                        &mut Vec::new(),
                        &mut inner,
                    );
                    for i in inner {
                        fail(format!("Invalid key {key:?}: {}", i.message));
                    }
                }
            }
        }
        for sub in r.all_of.iter() {
            self.validate(*sub, value, path, out);
        }
        if let Some(not) = r.not
            && self.valid(not, value)
        {
            out.push(Issue {
                path: dotted(path),
                message: "Invalid input".to_string(),
            });
        }
        if let Some((cond, then, otherwise)) = r.if_then_else
            && cond != NodeId::MAX
        {
            let branch = if self.valid(cond, value) {
                then
            } else {
                otherwise
            };
            if let Some(b) = branch {
                self.validate(b, value, path, out);
            }
        }
    }

    fn valid(&self, id: NodeId, value: &Value) -> bool {
        let mut out = Vec::new();
        self.validate(id, value, &mut Vec::new(), &mut out);
        out.is_empty()
    }

    /// `anyOf` (and `oneOf`, read as "any": OpenClaw's unions take the first match). When no
    /// branch accepts the value: a union of literals lists what is allowed; when the value's
    /// type fits exactly one branch, that branch's issues are the useful ones; otherwise
    /// OpenClaw's wording for a union, "Invalid input".
    fn validate_union(
        &self,
        branches: &[NodeId],
        value: &Value,
        path: &mut Vec<String>,
        out: &mut Vec<Issue>,
    ) {
        let here = dotted(path);
        let mut results = Vec::with_capacity(branches.len());
        for b in branches {
            let mut issues = Vec::new();
            self.validate(*b, value, path, &mut issues);
            if issues.is_empty() {
                return;
            }
            results.push((*b, issues));
        }
        let literal = |b: NodeId| {
            let n = self.node(b);
            n.rare.as_ref().and_then(|r| {
                r.const_value
                    .clone()
                    .map(|c| vec![c])
                    .or_else(|| r.enum_values.as_ref().map(|e| e.to_vec()))
            })
        };
        let literals: Option<Vec<Value>> = results
            .iter()
            .map(|(b, _)| literal(*b))
            .collect::<Option<Vec<Vec<Value>>>>()
            .map(|v| v.into_iter().flatten().collect());
        if let Some(values) = literals
            && !values.is_empty()
        {
            let mut allowed: Vec<String> = values.iter().map(Value::to_string).collect();
            allowed.dedup();
            out.push(Issue {
                path: here,
                message: format!("Invalid input (allowed: {})", allowed.join(", ")),
            });
            return;
        }
        let mismatch = |issues: &[Issue]| {
            issues.iter().any(|i| {
                i.path == here
                    && (i.message.starts_with("Invalid input: expected")
                        || i.message.starts_with("Invalid input (allowed"))
            })
        };
        let typed: Vec<&Vec<Issue>> = results
            .iter()
            .map(|(_, i)| i)
            .filter(|i| !mismatch(i))
            .collect();
        if let [one] = typed.as_slice() {
            out.extend(one.iter().cloned());
            return;
        }
        out.push(Issue {
            path: here,
            message: "Invalid input".to_string(),
        });
    }
}

fn num_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

fn type_matches(types: u8, v: &Value) -> bool {
    let bit = match v {
        Value::Null => T_NULL,
        Value::Bool(_) => T_BOOL,
        Value::Object(_) => T_OBJECT,
        Value::Array(_) => T_ARRAY,
        Value::String(_) => T_STRING,
        Value::Number(n) => {
            let integral = n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0);
            if types & T_NUMBER != 0 || (integral && types & T_INTEGER != 0) {
                return true;
            }
            return false;
        }
    };
    types & bit != 0
}

/// Zod's names of the expected types: `int` only when a number was given (1.5 for an integer),
/// else `number`.
fn type_names(types: u8, received: &str) -> String {
    let mut names = Vec::new();
    for (bit, name) in [
        (T_OBJECT, "object"),
        (T_ARRAY, "array"),
        (T_STRING, "string"),
        (T_NUMBER, "number"),
        (
            T_INTEGER,
            if received == "number" {
                "int"
            } else {
                "number"
            },
        ),
        (T_BOOL, "boolean"),
        (T_NULL, "null"),
    ] {
        if types & bit != 0 && !names.contains(&name) {
            names.push(name);
        }
    }
    names.join(" | ")
}

/// `channels.<id>`: a channel's own config object, checked by the channel's JSON Schema.
fn is_channel(path: &str) -> bool {
    path.strip_prefix("channels.")
        .is_some_and(|rest| !rest.is_empty() && !rest.contains('.'))
}

/// OpenClaw's dotted path (`agents.list.0`; the root is `<root>`).
fn dotted(path: &[String]) -> String {
    if path.is_empty() {
        ROOT.to_string()
    } else {
        path.join(".")
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
