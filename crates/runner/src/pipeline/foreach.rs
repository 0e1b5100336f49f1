//! `foreach:` expansion: a stage written once becomes one stage per item of a list or a glob,
//! and a reduce input (`STAGE@*.PORT`) one input per expansion.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::diag::Diags;
use super::model::normalize;
use super::yaml::{Key, Node};

impl Diags {
    /// Expands every stage with `foreach:` (a list, or `{ glob: PATTERN }` relative to the
    /// pipeline folder) into one stage `NAME@ITEM` per item, `${item}` (the item; for a glob, the
    /// path component the first wildcard matched) and `${item.path}` (the item; for a glob, the
    /// matched path) replaced in every value; then every input `STAGE@*.PORT` (a reduce) into one
    /// input `PORT@ITEM` per expansion of STAGE.
    pub(super) fn expand_foreach(
        &mut self,
        entries: &[(Key, Node)],
        dir: &Path,
        not_items: &[PathBuf],
    ) -> Vec<(Key, Node)> {
        let mut out = Vec::new();
        let mut items_of: HashMap<String, Vec<String>> = HashMap::new();
        for (key, node) in entries {
            let Node::Map {
                entries: fields,
                pos,
            } = node
            else {
                out.push((key.clone(), node.clone()));
                continue;
            };
            let Some((_, each)) = fields.iter().find(|(k, _)| k.name == "foreach") else {
                out.push((key.clone(), node.clone()));
                continue;
            };
            let rest: Vec<(Key, Node)> = fields
                .iter()
                .filter(|(k, _)| k.name != "foreach")
                .cloned()
                .collect();
            let body = Node::Map {
                entries: rest,
                pos: *pos,
            };
            let Some(items) = self.foreach_items(each, dir, &key.name, not_items) else {
                continue;
            };
            for item in &items {
                out.push((
                    Key {
                        name: format!("{}@{}", key.name, item.name),
                        pos: key.pos,
                    },
                    substitute(&body, item),
                ));
            }
            items_of.insert(
                key.name.clone(),
                items.into_iter().map(|i| i.name).collect(),
            );
        }
        for (_, node) in &mut out {
            let Node::Map {
                entries: fields, ..
            } = node
            else {
                continue;
            };
            for (k, v) in fields.iter_mut() {
                if k.name != "inputs" {
                    continue;
                }
                let Node::Map { entries: ports, .. } = v else {
                    continue;
                };
                let mut expanded = Vec::new();
                for (port, r) in ports.drain(..) {
                    let reduce = r
                        .as_str()
                        .and_then(|t| {
                            t.rsplit_once('.')
                                .map(|(a, b)| (a.to_owned(), b.to_owned()))
                        })
                        .and_then(|(st, op)| st.strip_suffix("@*").map(|b| (b.to_owned(), op)));
                    let Some((base, op)) = reduce else {
                        expanded.push((port, r));
                        continue;
                    };
                    match items_of.get(&base) {
                        Some(items) => {
                            for item in items {
                                expanded.push((
                                    Key {
                                        name: format!("{}@{item}", port.name),
                                        pos: port.pos,
                                    },
                                    Node::Scalar {
                                        value: format!("{base}@{item}.{op}"),
                                        quoted: true,
                                        pos: r.pos(),
                                    },
                                ));
                            }
                        }
                        None => self.error(
                            r.pos(),
                            format!(
                                "input `{}` = `{base}@*.{op}`: stage `{base}` has no `foreach`, so there is nothing to gather",
                                port.name
                            ),
                        ),
                    }
                }
                *ports = expanded;
            }
        }
        out
    }

    fn foreach_items(
        &mut self,
        node: &Node,
        dir: &Path,
        stage: &str,
        not_items: &[PathBuf],
    ) -> Option<Vec<Item>> {
        let what = format!("`foreach` of stage `{stage}`");
        let items: Vec<Item> = match node {
            Node::Seq { items, .. } => {
                let mut out = Vec::new();
                for n in items {
                    match n.scalar_text() {
                        Some(t) if !matches!(n, Node::Seq { .. } | Node::Map { .. }) => {
                            out.push(Item {
                                name: t.to_owned(),
                                path: t.to_owned(),
                            })
                        }
                        _ => self.error(
                            n.pos(),
                            format!(
                                "{what}: items must be strings or numbers, found {}",
                                n.kind()
                            ),
                        ),
                    }
                }
                out
            }
            Node::Map { .. } => {
                let entries = self.map(node, &what, Some(&["glob"]))?;
                let pattern_node = entries
                    .iter()
                    .find(|(k, _)| k.name == "glob")
                    .map(|(_, n)| n);
                let Some(pattern_node) = pattern_node else {
                    self.error(
                        node.pos(),
                        format!("{what}: a mapping needs `glob: PATTERN`"),
                    );
                    return None;
                };
                let pattern = self.string(pattern_node, "`glob`")?;
                let wild = Path::new(&pattern)
                    .components()
                    .position(|c| c.as_os_str().to_string_lossy().contains(['*', '?', '[']));
                let Some(wild) = wild else {
                    self.error(
                        pattern_node.pos(),
                        format!("{what}: `{pattern}` has no wildcard (`*`, `?`, `[...]`)"),
                    );
                    return None;
                };
                let full = dir.join(&pattern);
                // Each folder entered once (symlink loops end); a wildcard never matches a
                // leading `.` (`.git`, `.agingflow`); the outputs, lock and pipeline file are no
                // items.
                let matched = match guard::walk::glob(
                    &full.to_string_lossy(),
                    guard::walk::Hidden::Skip,
                    &|| false,
                ) {
                    Ok(m) => m,
                    Err(e) => {
                        self.error(
                            pattern_node.pos(),
                            format!("{what}: bad glob `{pattern}`: {e}"),
                        );
                        return None;
                    }
                };
                let mut paths: Vec<String> = matched
                    .into_iter()
                    .filter(|p| {
                        let real = guard::resolve(p);
                        !not_items.iter().any(|n| real.starts_with(n))
                    })
                    .filter_map(|p| p.strip_prefix(dir).ok().map(normalize))
                    .collect();
                paths.sort();
                if paths.is_empty() {
                    self.error(
                        pattern_node.pos(),
                        format!("{what}: `{pattern}` matches nothing in {}", dir.display()),
                    );
                }
                paths
                    .into_iter()
                    .map(|path| Item {
                        name: path.split('/').nth(wild).unwrap_or_default().to_owned(),
                        path,
                    })
                    .collect()
            }
            _ => {
                self.error(
                    node.pos(),
                    format!(
                        "{what} must be a list or `{{ glob: PATTERN }}`, found {}",
                        node.kind()
                    ),
                );
                return None;
            }
        };
        let mut seen = HashSet::new();
        for i in &items {
            if i.name.is_empty()
                || !i
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                self.error(
                    node.pos(),
                    format!(
                        "{what}: item `{}` may hold only letters, digits, `-`, `_` and `.` (it names stage `{stage}@{}`)",
                        i.name, i.name
                    ),
                );
            } else if !seen.insert(i.name.clone()) {
                self.error(node.pos(), format!("{what}: item `{}` comes twice", i.name));
            }
        }
        if items.is_empty() && matches!(node, Node::Seq { .. }) {
            self.error(node.pos(), format!("{what} is empty"));
        }
        Some(items)
    }
}

/// One value of a stage's `foreach`.
struct Item {
    /// The `@` suffix of the stage and `${item}`.
    name: String,
    /// `${item.path}`: the matched path of a glob (the item itself for a list).
    path: String,
}

/// A copy of `node` with `${item.path}` and `${item}` replaced in every scalar.
fn substitute(node: &Node, item: &Item) -> Node {
    match node {
        Node::Scalar { value, quoted, pos } => Node::Scalar {
            value: value
                .replace("${item.path}", &item.path)
                .replace("${item}", &item.name),
            quoted: *quoted,
            pos: *pos,
        },
        Node::Seq { items, pos } => Node::Seq {
            items: items.iter().map(|n| substitute(n, item)).collect(),
            pos: *pos,
        },
        Node::Map { entries, pos } => Node::Map {
            entries: entries
                .iter()
                .map(|(k, n)| (k.clone(), substitute(n, item)))
                .collect(),
            pos: *pos,
        },
    }
}
