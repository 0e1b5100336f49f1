//! A YAML tree that remembers where every node stands, so that every error in a pipeline file can
//! be reported with its line and column, all at once.
//!
//! serde_yaml stops at the first error and keeps no positions after deserializing, so the pipeline
//! file is read through this tree; the lock file, which agingflow writes itself, uses serde_yaml.

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

/// A position in the file: line and column, both counted from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

impl Pos {
    fn of(span: &Span) -> Self {
        Pos {
            line: span.start.line(),
            col: span.start.col() + 1,
        }
    }
}

/// A node of the tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// A scalar; `quoted` scalars are always strings.
    Scalar {
        value: String,
        quoted: bool,
        pos: Pos,
    },
    Seq {
        items: Vec<Node>,
        pos: Pos,
    },
    /// A mapping, in file order; keys are scalars.
    Map {
        entries: Vec<(Key, Node)>,
        pos: Pos,
    },
}

/// A mapping key with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub name: String,
    pub pos: Pos,
}

/// What a scalar means under YAML's core schema.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a str),
}

impl Node {
    pub fn pos(&self) -> Pos {
        match self {
            Node::Scalar { pos, .. } | Node::Seq { pos, .. } | Node::Map { pos, .. } => *pos,
        }
    }

    /// A short name of the node's kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Node::Seq { .. } => "a list",
            Node::Map { .. } => "a mapping",
            Node::Scalar { .. } => match self.scalar() {
                Some(Scalar::Null) => "null",
                Some(Scalar::Bool(_)) => "a boolean",
                Some(Scalar::Int(_) | Scalar::Float(_)) => "a number",
                _ => "a string",
            },
        }
    }

    /// The typed value of a scalar node.
    pub fn scalar(&self) -> Option<Scalar<'_>> {
        let Node::Scalar { value, quoted, .. } = self else {
            return None;
        };
        if *quoted {
            return Some(Scalar::Str(value));
        }
        Some(match value.as_str() {
            "" | "~" | "null" | "Null" | "NULL" => Scalar::Null,
            "true" | "True" | "TRUE" => Scalar::Bool(true),
            "false" | "False" | "FALSE" => Scalar::Bool(false),
            v => {
                if let Ok(i) = v.parse::<i64>() {
                    Scalar::Int(i)
                } else if let Some(f) = parse_yaml_float(v) {
                    Scalar::Float(f)
                } else {
                    Scalar::Str(v)
                }
            }
        })
    }

    /// The text of a string scalar (plain or quoted), or None for other nodes.
    pub fn as_str(&self) -> Option<&str> {
        match self.scalar()? {
            Scalar::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The text of any non-null scalar as written (numbers and booleans included).
    pub fn scalar_text(&self) -> Option<&str> {
        match self {
            Node::Scalar { value, .. } if self.scalar() != Some(Scalar::Null) => Some(value),
            _ => None,
        }
    }
}

fn parse_yaml_float(v: &str) -> Option<f64> {
    let looks_numeric = v
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || "+-.".contains(c))
        && v.chars().all(|c| c.is_ascii_digit() || "+-.eE".contains(c));
    if looks_numeric { v.parse().ok() } else { None }
}

/// A syntax error with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub pos: Pos,
    pub message: String,
}

enum Frame {
    Seq(Vec<Node>, Pos),
    Map(Vec<(Key, Node)>, Option<Key>, Pos),
}

/// Parses one YAML document; `Ok(None)` for a file with no document (empty or only comments).
pub fn parse(text: &str) -> Result<Option<Node>, SyntaxError> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Node> = None;
    let mut documents = 0;
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| SyntaxError {
            pos: Pos {
                line: e.marker().line(),
                col: e.marker().col() + 1,
            },
            message: e.info().to_owned(),
        })?;
        let pos = Pos::of(&span);
        let node = match event {
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(SyntaxError {
                        pos,
                        message: "more than one YAML document in the file".into(),
                    });
                }
                continue;
            }
            Event::Alias(_) => {
                return Err(SyntaxError {
                    pos,
                    message: "anchors and aliases are not supported".into(),
                });
            }
            Event::SequenceStart(..) => {
                stack.push(Frame::Seq(Vec::new(), pos));
                continue;
            }
            Event::MappingStart(..) => {
                stack.push(Frame::Map(Vec::new(), None, pos));
                continue;
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq(items, pos)) => Node::Seq { items, pos },
                _ => continue,
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map(entries, _, pos)) => Node::Map { entries, pos },
                _ => continue,
            },
            Event::Scalar(value, style, ..) => {
                let quoted = !matches!(style, ScalarStyle::Plain);
                Node::Scalar {
                    value: value.into_owned(),
                    quoted,
                    pos,
                }
            }
            _ => continue,
        };
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq(items, _)) => items.push(node),
            Some(Frame::Map(entries, key, _)) => match key.take() {
                Some(k) => entries.push((k, node)),
                None => match node {
                    Node::Scalar { value, pos, .. } => *key = Some(Key { name: value, pos }),
                    other => {
                        return Err(SyntaxError {
                            pos: other.pos(),
                            message: "a mapping key must be a plain value, not a list or mapping"
                                .into(),
                        });
                    }
                },
            },
        }
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        let n = parse("a: 1\nb:\n  - x\n  - 'y'\n").unwrap().unwrap();
        let Node::Map { entries, .. } = n else {
            panic!()
        };
        assert_eq!(entries[0].0.pos, Pos { line: 1, col: 1 });
        assert_eq!(entries[1].0.name, "b");
        let Node::Seq { items, .. } = &entries[1].1 else {
            panic!()
        };
        assert_eq!(items[1].pos(), Pos { line: 4, col: 5 });
        assert_eq!(items[1].as_str(), Some("y"));
        assert_eq!(entries[0].1.scalar(), Some(Scalar::Int(1)));
    }

    #[test]
    fn empty_and_broken() {
        assert_eq!(parse("").unwrap(), None);
        assert_eq!(parse("# only a comment\n").unwrap(), None);
        let e = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(e.pos.line >= 1, "{e:?}");
        assert_eq!(
            parse("a: &x 1\nb: *x\n").unwrap_err().message,
            "anchors and aliases are not supported"
        );
    }

    #[test]
    fn scalar_types() {
        let n = |s: &str| parse(&format!("v: {s}\n")).unwrap().unwrap();
        let v = |s: &str| match n(s) {
            Node::Map { entries, .. } => entries[0].1.kind(),
            _ => panic!(),
        };
        assert_eq!(v("1.5e3"), "a number");
        assert_eq!(v("'1.5'"), "a string");
        assert_eq!(v("true"), "a boolean");
        assert_eq!(v("~"), "null");
        assert_eq!(v("e5"), "a string");
        assert_eq!(v("[a]"), "a list");
    }
}
