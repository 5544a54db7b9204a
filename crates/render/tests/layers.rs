//! The module layering of `crates/render/src` (see the top of `lib.rs` and
//! `docs/rendering.md` "Layers"): no module imports a module that imports it back, and the core
//! renderers reach optional features only through the registry.
//!
//! Modules are files (`mod.rs` is its directory's module, `lib.rs` the crate root). An edge is
//! any path a module's code names: `use crate::…`, `use super::…` (trees expanded), inline
//! `crate::x::f(…)`, `super::f(…)`, `self::x::…` and a child module's name (`otel::T`). A path
//! goes to the longest module prefix it names, so `super::Feature` in a child is an edge to its
//! parent. Comments, string literals and `#[cfg(test)]` blocks are ignored (test code may reach
//! anywhere).
//!
//! The crate root is two nodes: its items (`Object`, `Desired`, `RenderError`, `Observed`, …),
//! which everything may use and which use nothing, and the body of `render()`, the entry point,
//! which uses everything and which nothing uses. Its `pub use` re-exports are names, not
//! dependencies.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The crate root's items.
const ROOT: &str = "crate";
/// The body of `render()` in `lib.rs`.
const ENTRY: &str = "crate::render()";

/// `src` with comments and the contents of string and char literals blanked (newlines kept).
fn code_only(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let blank = |out: &mut String, ch: char| out.push(if ch == '\n' { '\n' } else { ' ' });
    let at_ = |i: usize, k: usize| c.get(i + k).copied().unwrap_or('\0');
    let mut i = 0;
    while i < c.len() {
        let ident_before = i > 0 && (c[i - 1].is_alphanumeric() || c[i - 1] == '_');
        if at_(i, 0) == '/' && at_(i, 1) == '/' {
            while i < c.len() && c[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if at_(i, 0) == '/' && at_(i, 1) == '*' {
            let mut depth = 0;
            while i < c.len() {
                if at_(i, 0) == '/' && at_(i, 1) == '*' {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if at_(i, 0) == '*' && at_(i, 1) == '/' {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, c[i]);
                    i += 1;
                }
            }
        } else if !ident_before && (at_(i, 0) == 'r' || (at_(i, 0) == 'b' && at_(i, 1) == 'r')) && {
            let s = if at_(i, 0) == 'b' { 1 } else { 0 };
            let mut k = s + 1;
            while at_(i, k) == '#' {
                k += 1;
            }
            at_(i, k) == '"' && (k > s + 1 || at_(i, s + 1) == '"')
        } {
            // Raw string: r#"…"#.
            let s = if at_(i, 0) == 'b' { 1 } else { 0 };
            let mut hashes = 0;
            while at_(i, s + 1 + hashes) == '#' {
                hashes += 1;
            }
            let open = s + 2 + hashes;
            for _ in 0..open {
                out.push(' ');
            }
            i += open;
            loop {
                if i >= c.len() {
                    break;
                }
                if c[i] == '"' && (0..hashes).all(|h| c.get(i + 1 + h) == Some(&'#')) {
                    for _ in 0..=hashes {
                        out.push(' ');
                    }
                    i += 1 + hashes;
                    break;
                }
                blank(&mut out, c[i]);
                i += 1;
            }
        } else if at_(i, 0) == '"' {
            out.push(' ');
            i += 1;
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < c.len() {
                    blank(&mut out, c[i]);
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if at_(i, 0) == '\''
            && (at_(i, 1) == '\\' || (at_(i, 2) == '\'' && at_(i, 1) != '\''))
        {
            // A char literal (not a lifetime).
            out.push(' ');
            i += 1;
            while i < c.len() && c[i] != '\'' {
                if c[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < c.len() {
                    blank(&mut out, c[i]);
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

/// The index just past the block whose `{` is the first one at or after `from`.
fn block_end(code: &[char], from: usize) -> usize {
    let mut i = from;
    while i < code.len() && code[i] != '{' {
        i += 1;
    }
    let mut depth = 0;
    while i < code.len() {
        match code[i] {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    code.len()
}

/// `code` without the items marked `#[cfg(test)]`.
fn without_tests(code: &str) -> String {
    let mut c: Vec<char> = code.chars().collect();
    let marker: Vec<char> = "#[cfg(test)]".chars().collect();
    let mut i = 0;
    while i + marker.len() <= c.len() {
        if c[i..i + marker.len()] == marker[..] {
            // The item ends at its block or, for `mod x;` / `use …;`, at the `;` before any `{`.
            let mut j = i + marker.len();
            while j < c.len() && c[j] != '{' && c[j] != ';' {
                j += 1;
            }
            let end = if j < c.len() && c[j] == ';' {
                j + 1
            } else {
                block_end(&c, j)
            };
            for ch in &mut c[i..end] {
                if *ch != '\n' {
                    *ch = ' ';
                }
            }
            i = end;
        } else {
            i += 1;
        }
    }
    c.into_iter().collect()
}

fn is_ident(ch: char) -> bool {
    ch.is_alphanumeric() || ch == '_'
}

/// Expand a `use` tree (`a::{b, c::{d, e}}`) into its paths.
fn expand_use(tree: &str) -> Vec<Vec<String>> {
    // `x as y` -> `x@y`, then no whitespace.
    let tree = tree
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace(" as ", "@");
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    fn go(prefix: &[String], t: &str, out: &mut Vec<Vec<String>>) {
        // Split t at top-level commas.
        let mut depth = 0;
        let mut start = 0;
        let mut parts = Vec::new();
        for (k, ch) in t.char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    parts.push(&t[start..k]);
                    start = k + 1;
                }
                _ => {}
            }
        }
        parts.push(&t[start..]);
        for part in parts.into_iter().filter(|p| !p.is_empty()) {
            match part.find('{') {
                Some(b) => {
                    let head = part[..b].trim_end_matches("::");
                    let mut p = prefix.to_vec();
                    p.extend(head.split("::").filter(|s| !s.is_empty()).map(String::from));
                    let inner = &part[b + 1..part.len() - 1];
                    go(&p, inner, out);
                }
                None => {
                    let part = part.split('@').next().unwrap_or(part);
                    let mut p = prefix.to_vec();
                    p.extend(part.split("::").filter(|s| !s.is_empty()).map(String::from));
                    out.push(p);
                }
            }
        }
    }
    let mut out = Vec::new();
    go(&[], &tree, &mut out);
    out
}

/// Every `a::b::c` path in `code` (identifier segments only; generics and `{` end a path).
fn inline_paths(code: &str) -> Vec<Vec<String>> {
    let c: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let boundary = i == 0 || !(is_ident(c[i - 1]) || c[i - 1] == ':');
        if boundary && is_ident(c[i]) {
            let mut segs = Vec::new();
            let mut j = i;
            loop {
                let s = j;
                while j < c.len() && is_ident(c[j]) {
                    j += 1;
                }
                segs.push(c[s..j].iter().collect::<String>());
                if j + 2 < c.len() && c[j] == ':' && c[j + 1] == ':' && is_ident(c[j + 2]) {
                    j += 2;
                } else {
                    break;
                }
            }
            if segs.len() > 1 {
                out.push(segs);
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

struct Crate {
    /// Module path of each file.
    files: BTreeMap<PathBuf, Vec<String>>,
    /// Every module path.
    modules: BTreeSet<Vec<String>>,
}

fn node(path: &[String]) -> String {
    if path.is_empty() {
        ROOT.to_string()
    } else {
        path.join("::")
    }
}

impl Crate {
    fn load(src: &Path) -> Crate {
        let mut files = BTreeMap::new();
        let mut stack = vec![src.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let p = entry.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|e| e == "rs") {
                    let rel = p.strip_prefix(src).unwrap();
                    let mut m: Vec<String> = rel
                        .with_extension("")
                        .iter()
                        .map(|s| s.to_string_lossy().into_owned())
                        .collect();
                    if m.last().is_some_and(|l| l == "mod" || l == "lib") {
                        m.pop();
                    }
                    files.insert(p, m);
                }
            }
        }
        let modules = files.values().cloned().collect();
        Crate { files, modules }
    }

    /// The module a path names from module `at`, or `None` for an outside path.
    fn resolve(&self, at: &[String], path: &[String]) -> Option<String> {
        let mut abs: Vec<String> = match path.first().map(String::as_str) {
            Some("crate") => Vec::new(),
            Some("super") => at.to_vec(),
            Some("self") => at.to_vec(),
            Some(first) => {
                let mut child = at.to_vec();
                child.push(first.to_string());
                if !self.modules.contains(&child) {
                    return None;
                }
                at.to_vec()
            }
            None => return None,
        };
        let mut rest = path;
        if matches!(path[0].as_str(), "crate" | "self") {
            rest = &path[1..];
        }
        while rest.first().is_some_and(|s| s == "super") {
            abs.pop();
            rest = &rest[1..];
        }
        abs.extend(rest.iter().filter(|s| *s != "*").cloned());
        let mut k = abs.len();
        while k > 0 && !self.modules.contains(&abs[..k]) {
            k -= 1;
        }
        Some(node(&abs[..k]))
    }

    /// Module -> the modules it names.
    fn graph(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (file, module) in &self.files {
            let code = without_tests(&code_only(&std::fs::read_to_string(file).unwrap()));
            let is_root = module.is_empty();
            // (text, from-node) pieces.
            let mut pieces: Vec<(String, String)> = Vec::new();
            if is_root {
                let c: Vec<char> = code.chars().collect();
                let start = code.find("pub fn render(").expect("lib.rs has render()");
                let start = code[..start].chars().count();
                let end = block_end(&c, start);
                let body: String = c[start..end].iter().collect();
                let mut rest: Vec<char> = c.clone();
                for ch in &mut rest[start..end] {
                    *ch = ' ';
                }
                pieces.push((body, ENTRY.to_string()));
                pieces.push((rest.into_iter().collect(), ROOT.to_string()));
            } else {
                pieces.push((code, node(module)));
            }
            for (text, from) in pieces {
                let mut paths = Vec::new();
                let mut rest = text.as_str();
                let mut other = String::new();
                // `use` statements (trees), the rest scanned for inline paths.
                while let Some(k) = find_use(rest) {
                    other.push_str(&rest[..k.0]);
                    let stmt_end = rest[k.1..].find(';').map_or(rest.len(), |e| k.1 + e);
                    let public = rest[..k.0].trim_end().ends_with("pub")
                        || rest[..k.0].trim_end().ends_with(')');
                    if !(is_root && public) {
                        paths.extend(expand_use(&rest[k.1..stmt_end]));
                    }
                    rest = &rest[(stmt_end + 1).min(rest.len())..];
                }
                other.push_str(rest);
                paths.extend(inline_paths(&other));
                let entry = g.entry(from.clone()).or_default();
                for p in paths {
                    if let Some(to) = self.resolve(module, &p)
                        && to != from
                        && !(is_root && to == ROOT)
                    {
                        entry.insert(to);
                    }
                }
            }
        }
        g
    }
}

/// The next `use ` keyword: (start of `use`, start of its tree).
fn find_use(s: &str) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(k) = s[from..].find("use ") {
        let at = from + k;
        let before = s[..at].chars().next_back();
        if before.is_none_or(|b| !is_ident(b)) {
            return Some((at, at + 4));
        }
        from = at + 4;
    }
    None
}

/// A cycle of `g`, if any.
fn find_cycle(g: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Open,
        Done,
    }
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, State>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match state.get(n) {
            Some(State::Done) => return None,
            Some(State::Open) => {
                let from = stack.iter().position(|s| s == n).unwrap_or(0);
                let mut cycle = stack[from..].to_vec();
                cycle.push(n.to_string());
                return Some(cycle);
            }
            None => {}
        }
        state.insert(n.to_string(), State::Open);
        stack.push(n.to_string());
        for m in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, g, state, stack) {
                return Some(c);
            }
        }
        stack.pop();
        state.insert(n.to_string(), State::Done);
        None
    }
    let mut state = BTreeMap::new();
    for n in g.keys() {
        if let Some(c) = visit(n, g, &mut state, &mut Vec::new()) {
            return Some(c);
        }
    }
    None
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    Crate::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src")).graph()
}

#[test]
fn module_imports_have_no_cycle() {
    let g = graph();
    // The parser sees the imports at all.
    let edges: usize = g.values().map(BTreeSet::len).sum();
    assert!(edges > 50, "only {edges} edges found: {g:#?}");
    assert!(g[ENTRY].contains("statefulset"), "{:?}", g[ENTRY]);
    if let Some(cycle) = find_cycle(&g) {
        panic!(
            "module import cycle: {}\n(see docs/rendering.md \"Layers\")",
            cycle.join(" -> ")
        );
    }
}

#[test]
fn nothing_uses_the_entry_point() {
    for (from, to) in graph() {
        assert!(!to.contains(ENTRY), "{from} uses render()");
    }
}

#[test]
fn the_crate_root_items_use_no_module() {
    let g = graph();
    assert_eq!(g.get(ROOT).cloned().unwrap_or_default(), BTreeSet::new());
}

#[test]
fn core_renderers_reach_features_only_through_the_registry() {
    let core = [
        "config",
        "workspace",
        "statefulset",
        "service",
        "networkpolicy",
        "rbac",
        "simple",
    ];
    for (from, to) in graph() {
        let top = from.split("::").next().unwrap_or_default();
        if !core.contains(&top) {
            continue;
        }
        for t in to {
            assert!(
                !t.starts_with("features::") || t == "features::hooks",
                "core module {from} names the feature module {t}; add a Feature hook instead"
            );
        }
    }
}

#[test]
fn the_parser_reads_use_trees_and_skips_literals() {
    assert_eq!(
        expand_use("crate::{a, b::{c, d as e}, f::*}"),
        vec![
            vec!["crate", "a"],
            vec!["crate", "b", "c"],
            vec!["crate", "b", "d"],
            vec!["crate", "f", "*"]
        ]
    );
    let code = code_only(
        "let s = \"crate::x\"; // crate::y\nlet r = r#\"super::z\"#; let c = '\"'; crate::w::f();",
    );
    assert_eq!(
        inline_paths(&code),
        vec![vec!["crate".to_string(), "w".into(), "f".into()]]
    );
    let code = without_tests("a::b();\n#[cfg(test)]\nmod tests { use super::*; c::d(); }\n");
    assert_eq!(inline_paths(&code), vec![vec!["a".to_string(), "b".into()]]);
}
