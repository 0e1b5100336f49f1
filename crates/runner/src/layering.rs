//! A test that the runner's modules import one another in one direction only: the graph of
//! `crate::`, `super::` and child-module references between its source files has no circle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The module path of a source file below `src` (`pipeline/model.rs` is `pipeline::model`).
fn module_of(rel: &Path) -> String {
    let mut parts: Vec<String> = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|l| l == "mod" || l == "lib") {
        parts.pop();
    }
    parts.join("::")
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The word characters of `s` from the start (a path segment).
fn segment(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// Every module `text` (the source of module `me`, comments and tests removed) refers to,
/// resolved to the longest module path that is a source file.
fn references(me: &str, text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let is_mod_rs = modules.iter().any(|m| m.starts_with(&format!("{me}::")));
    let parent: Vec<&str> = me.rsplit_once("::").map(|(p, _)| p).into_iter().collect();
    let mut out = BTreeSet::new();
    let resolve = |path: Vec<String>, out: &mut BTreeSet<String>| {
        for n in (1..=path.len()).rev() {
            let m = path[..n].join("::");
            if modules.contains(&m) {
                if m != me {
                    out.insert(m);
                }
                return;
            }
        }
    };
    let path_after = |rest: &str| -> Vec<String> {
        let mut segs = Vec::new();
        let mut r = rest;
        loop {
            let s = segment(r);
            if s.is_empty() {
                break;
            }
            segs.push(s.to_owned());
            match r[s.len()..].strip_prefix("::") {
                Some(next) => r = next,
                None => break,
            }
        }
        segs
    };
    for (i, _) in text.match_indices("crate::") {
        if i > 0 && text[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        resolve(path_after(&text[i + 7..]), &mut out);
    }
    for (i, _) in text.match_indices("super::") {
        if i > 0 && text[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let mut path: Vec<String> = parent
            .first()
            .map(|p| p.split("::").map(str::to_owned).collect())
            .unwrap_or_default();
        path.extend(path_after(&text[i + 7..]));
        resolve(path, &mut out);
    }
    // A `mod.rs` using its own children (`use child::...`, `pub use child::...`).
    if is_mod_rs {
        for line in text.lines() {
            let l = line.trim_start();
            let Some(rest) = l
                .strip_prefix("pub use ")
                .or_else(|| l.strip_prefix("use "))
            else {
                continue;
            };
            let first = segment(rest);
            let child = format!("{me}::{first}");
            if modules.contains(&child) {
                let mut path: Vec<String> = me.split("::").map(str::to_owned).collect();
                path.extend(path_after(rest));
                resolve(path, &mut out);
            }
        }
    }
    out
}

/// The source without comments and without its `#[cfg(test)]` module.
fn code_of(text: &str) -> String {
    let body = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    body.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A circle in `graph`, if any (as the modules along it).
fn circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_owned(), 1);
        stack.push(n.to_owned());
        for m in graph.get(n).into_iter().flatten() {
            match state.get(m.as_str()) {
                Some(1) => {
                    let at = stack.iter().position(|s| s == m).unwrap_or(0);
                    let mut c = stack[at..].to_vec();
                    c.push(m.clone());
                    return Some(c);
                }
                Some(_) => {}
                None => {
                    if let Some(c) = visit(m, graph, state, stack) {
                        return Some(c);
                    }
                }
            }
        }
        stack.pop();
        state.insert(n.to_owned(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in graph.keys() {
        if !state.contains_key(n.as_str())
            && let Some(c) = visit(n, graph, &mut state, &mut Vec::new())
        {
            return Some(c);
        }
    }
    None
}

#[test]
fn the_runners_modules_import_in_one_direction() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    let mut modules = BTreeSet::new();
    let mut texts = Vec::new();
    for f in &all {
        let rel = f.strip_prefix(&src).unwrap();
        if rel == Path::new("main.rs") || rel == Path::new("lib.rs") {
            continue;
        }
        let m = module_of(rel);
        modules.insert(m.clone());
        texts.push((m, code_of(&std::fs::read_to_string(f).unwrap())));
    }
    let graph: BTreeMap<String, BTreeSet<String>> = texts
        .iter()
        .map(|(m, t)| (m.clone(), references(m, t, &modules)))
        .collect();
    assert!(graph.len() > 20, "found {} modules", graph.len());
    // The checker sees edges (so a clean result means something).
    assert!(graph["exec"].contains("ctx"), "{:?}", graph["exec"]);
    assert!(graph["pipeline"].contains("pipeline::model"));
    assert!(graph["pipeline::validate"].contains("pipeline::model"));
    if let Some(c) = circle(&graph) {
        panic!(
            "the runner's modules import in a circle: {}",
            c.join(" -> ")
        );
    }
    // The checker finds a circle where there is one.
    let mut bad = graph.clone();
    bad.get_mut("ctx").unwrap().insert("exec".into());
    assert!(circle(&bad).is_some());
    // The two schedulers know nothing of each other.
    assert!(!graph["local"].iter().any(|m| m.starts_with("slurm")));
    assert!(!graph["slurm"].contains("local"));
}
