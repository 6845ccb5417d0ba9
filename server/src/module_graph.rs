//! The server's modules must not import each other in a circle, and only `web` may use the
//! Leptos app's types: read from the sources (`crate::…` paths in code; comments do not
//! count, nor anything after a file's first `#[cfg(test)]`), so `cargo test -p server
//! module_graph` checks it without building anything else.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Items lib.rs re-exports at the crate root (`pub use module::Item;` or `pub use
/// module::{A, B};`), and the module each comes from, read from lib.rs itself.
fn root_reexports(lib_rs: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in lib_rs.lines() {
        let Some(path) = line.trim().strip_prefix("pub use ") else {
            continue;
        };
        let path = path.trim_end_matches(';');
        let Some((module, items)) = path.split_once("::") else {
            continue;
        };
        let items = items.trim_start_matches('{').trim_end_matches('}');
        for item in items.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            out.push((item.to_string(), module.to_string()));
        }
    }
    out
}

/// Top-level module -> the top-level modules its code refers to.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(&src).expect("under src");
            let first = rel.components().next().expect("a component");
            let top = first
                .as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_string();
            if top == "main" || top == "lib" || top == "module_graph" {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read source");
            // Code only: not the tests, and not comments (a doc link is no import).
            let code: String = (text.split("#[cfg(test)]").next().unwrap_or(""))
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join("\n");
            let deps = graph.entry(top.clone()).or_default();
            for dep in referenced_modules(&code) {
                if dep != top {
                    deps.insert(dep);
                }
            }
        }
    }
    // Items re-exported at the crate root count as their module; anything else that is no
    // module (a macro, say) does not count.
    let modules: BTreeSet<String> = graph.keys().cloned().collect();
    let lib_rs = std::fs::read_to_string(src.join("lib.rs")).expect("read lib.rs");
    let reexports = root_reexports(&lib_rs);
    for (module, deps) in graph.iter_mut() {
        let named: BTreeSet<String> = (deps.iter())
            .map(|d| match reexports.iter().find(|(item, _)| item == d) {
                Some((_, from)) => from.clone(),
                None => d.clone(),
            })
            .filter(|d| modules.contains(d) && d != module)
            .collect();
        *deps = named;
    }
    graph
}

/// The first segment after each `crate::`, also inside `use crate::{a, b::c}` groups.
fn referenced_modules(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            for item in group.split(',') {
                let name = ident(item.trim());
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        } else {
            let name = ident(rest);
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

/// The strongly connected groups of more than one module (Tarjan's algorithm).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Walk<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(w: &mut Walk<'a>, v: &'a str) {
        let i = w.index.len();
        w.index.insert(v, i);
        w.low.insert(v, i);
        w.stack.push(v);
        for d in w.graph.get(v).into_iter().flatten() {
            let d = d.as_str();
            if !w.index.contains_key(d) {
                visit(w, d);
                let l = w.low[v].min(w.low[d]);
                w.low.insert(v, l);
            } else if w.stack.contains(&d) {
                let l = w.low[v].min(w.index[d]);
                w.low.insert(v, l);
            }
        }
        if w.low[v] == w.index[v] {
            let mut group = Vec::new();
            while let Some(x) = w.stack.pop() {
                group.push(x.to_string());
                if x == v {
                    break;
                }
            }
            if group.len() > 1 {
                group.sort();
                w.found.push(group);
            }
        }
    }
    let mut w = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !w.index.contains_key(v.as_str()) {
            visit(&mut w, v);
        }
    }
    w.found.sort();
    w.found
}

#[test]
fn no_module_imports_another_in_a_circle() {
    let graph = module_graph();
    let found = cycles(&graph);
    assert!(
        found.is_empty(),
        "modules importing each other in a circle: {found:?}; the graph:\n{graph:#?}"
    );
    // The layers the architecture describes.
    assert!(graph["access"].is_empty(), "access imports nothing of ours");
    assert!(!graph["store"].contains("web") && !graph["store"].contains("query"));
}

#[test]
fn only_the_web_layer_uses_the_apps_types() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = module_graph();
    for module in graph.keys().filter(|m| *m != "web") {
        let file = src.join(format!("{module}.rs"));
        let dir = src.join(module);
        let mut texts = Vec::new();
        if file.exists() {
            texts.push(std::fs::read_to_string(&file).unwrap());
        }
        if dir.is_dir() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                texts.push(std::fs::read_to_string(entry.unwrap().path()).unwrap());
            }
        }
        for text in texts {
            assert!(!text.contains("app::"), "{module} uses the app's types");
        }
    }
}

#[test]
fn the_reference_reader_finds_paths_and_use_groups() {
    let code = "use crate::store::Store;\nuse crate::{query, web::AppState};\nlet x = crate::access::may_see_project(w, 1);";
    let found: Vec<String> = referenced_modules(code).into_iter().collect();
    assert_eq!(found, ["access", "query", "store", "web"]);
    let mut g = BTreeMap::new();
    g.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    g.insert("b".to_string(), BTreeSet::from(["a".to_string()]));
    g.insert("c".to_string(), BTreeSet::from(["a".to_string()]));
    assert_eq!(cycles(&g), vec![vec!["a".to_string(), "b".to_string()]]);
    let lib = "pub mod web;\npub use store::Store;\npub use web::{serve, AppState};\n";
    let found = root_reexports(lib);
    let want = [("Store", "store"), ("serve", "web"), ("AppState", "web")];
    assert_eq!(found, want.map(|(i, m)| (i.to_string(), m.to_string())));
}
