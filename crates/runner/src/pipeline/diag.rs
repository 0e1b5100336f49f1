//! Validation diagnostics: every error of a pipeline file with its line and column, and the
//! checks every part of validation shares (a mapping with known keys, a string, a list of them).

use std::collections::HashMap;
use std::fmt;

use super::yaml::{Key, Node, Pos};

/// One validation error.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diag {
    pub pos: Pos,
    pub message: String,
}

/// Every error found in a pipeline file.
#[derive(Debug, Clone)]
pub struct PipelineError {
    pub file: String,
    pub diags: Vec<Diag>,
}

impl fmt::Display for PipelineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diags.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(
                f,
                "{}:{}:{}: error: {}",
                self.file, d.pos.line, d.pos.col, d.message
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for PipelineError {}

/// The errors found so far, and the shape checks that add to them.
#[derive(Debug, Default)]
pub(super) struct Diags {
    pub(super) diags: Vec<Diag>,
}

impl Diags {
    pub(super) fn error(&mut self, pos: Pos, message: impl Into<String>) {
        self.diags.push(Diag {
            pos,
            message: message.into(),
        });
    }

    /// The entries of a mapping node, refusing unknown and duplicate keys.
    pub(super) fn map<'a>(
        &mut self,
        node: &'a Node,
        what: &str,
        allowed: Option<&[&str]>,
    ) -> Option<&'a [(Key, Node)]> {
        let Node::Map { entries, .. } = node else {
            self.error(
                node.pos(),
                format!("{what} must be a mapping, found {}", node.kind()),
            );
            return None;
        };
        let mut seen: HashMap<&str, Pos> = HashMap::new();
        for (k, _) in entries {
            if let Some(first) = seen.insert(&k.name, k.pos) {
                self.error(
                    k.pos,
                    format!(
                        "duplicate key `{}` in {what} (first at line {})",
                        k.name, first.line
                    ),
                );
            }
            if let Some(allowed) = allowed
                && !allowed.contains(&k.name.as_str())
            {
                self.error(
                    k.pos,
                    format!(
                        "unknown key `{}` in {what}; expected one of: {}",
                        k.name,
                        allowed.join(", ")
                    ),
                );
            }
        }
        Some(entries)
    }

    pub(super) fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match node.as_str() {
            Some(s) => Some(s.to_owned()),
            None => {
                self.error(
                    node.pos(),
                    format!("{what} must be a string, found {}", node.kind()),
                );
                None
            }
        }
    }

    pub(super) fn string_list(&mut self, node: &Node, what: &str) -> Option<Vec<String>> {
        let Node::Seq { items, .. } = node else {
            self.error(
                node.pos(),
                format!("{what} must be a list of strings, found {}", node.kind()),
            );
            return None;
        };
        let mut out = Vec::new();
        for item in items {
            match item.scalar_text() {
                Some(s) if !matches!(item, Node::Seq { .. } | Node::Map { .. }) => {
                    out.push(s.to_owned())
                }
                _ => self.error(
                    item.pos(),
                    format!("{what} must hold strings, found {}", item.kind()),
                ),
            }
        }
        Some(out)
    }
}
