//! Data-quality rules (docs/pipeline.md): parsing, evaluation on a table file, JUnit XML.
//!
//! Grammar: `rule := and ('or' and)*`, `and := atom ('and' atom)*`,
//! `atom := '(' rule ')' | 'count' OP NUMBER | COLUMN OP VALUE`, with OP one of
//! `== != < <= > >=` and VALUE a number, a 'quoted string', `true`, `false` or `null`.
//! A comparison with a null or NaN cell is false, except `== null` and `!= null`.

use std::fmt::Write as _;
use std::path::Path;

use arrow_array::{
    Array, BooleanArray, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
};

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A literal on the right of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Num(f64),
    Str(String),
    Bool(bool),
    Null,
}

/// A parsed rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    Cmp { column: String, op: Op, value: Lit },
    Count { op: Op, value: f64 },
    And(Box<Rule>, Box<Rule>),
    Or(Box<Rule>, Box<Rule>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Num(f64),
    Str(String),
    Op(Op),
    LParen,
    RParen,
}

impl std::fmt::Display for Tok {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tok::Ident(w) => write!(f, "`{w}`"),
            Tok::Num(n) => write!(f, "the number {n}"),
            Tok::Str(s) => write!(f, "the string '{s}'"),
            Tok::Op(op) => write!(f, "the operator `{}`", op_text(*op)),
            Tok::LParen => write!(f, "`(`"),
            Tok::RParen => write!(f, "`)`"),
        }
    }
}

fn op_text(op: Op) -> &'static str {
    match op {
        Op::Eq => "==",
        Op::Ne => "!=",
        Op::Lt => "<",
        Op::Le => "<=",
        Op::Gt => ">",
        Op::Ge => ">=",
    }
}

impl std::fmt::Display for Lit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Lit::Num(n) => write!(f, "{n} (a number)"),
            Lit::Str(s) => write!(f, "'{s}' (a string)"),
            Lit::Bool(b) => write!(f, "{b} (a boolean)"),
            Lit::Null => write!(f, "null"),
        }
    }
}

/// How deep parentheses may nest in a rule, and how many comparisons it may hold: a rule is a
/// line of a pipeline file, and these bounds keep parsing and evaluation off the stack's limit.
pub const MAX_RULE_DEPTH: usize = 32;
pub const MAX_RULE_TERMS: usize = 256;

fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' || c == ')' {
            out.push(if c == '(' { Tok::LParen } else { Tok::RParen });
            i += 1;
        } else if c == '\'' {
            let start = i + 1;
            let end = chars[start..]
                .iter()
                .position(|&c| c == '\'')
                .ok_or("unterminated string: a quote `'` is missing")?;
            out.push(Tok::Str(chars[start..start + end].iter().collect()));
            i = start + end + 1;
        } else if "=!<>".contains(c) {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let (op, len) = match two.as_str() {
                "==" => (Op::Eq, 2),
                "!=" => (Op::Ne, 2),
                "<=" => (Op::Le, 2),
                ">=" => (Op::Ge, 2),
                _ if c == '<' => (Op::Lt, 1),
                _ if c == '>' => (Op::Gt, 1),
                _ => return Err(format!("unknown operator at `{two}`: use == != < <= > >=")),
            };
            out.push(Tok::Op(op));
            i += len;
        } else if c.is_ascii_digit() || ((c == '-' || c == '+' || c == '.') && i + 1 < chars.len())
        {
            let start = i;
            i += 1;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric()
                    || chars[i] == '.'
                    || ((chars[i] == '-' || chars[i] == '+') && matches!(chars[i - 1], 'e' | 'E')))
            {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            out.push(Tok::Num(
                text.parse()
                    .map_err(|_| format!("`{text}` is not a number"))?,
            ));
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
        } else {
            return Err(format!("unexpected character `{c}`"));
        }
    }
    Ok(out)
}

struct RuleParser {
    toks: Vec<Tok>,
    at: usize,
    depth: usize,
    terms: usize,
}

impl RuleParser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.at).cloned();
        self.at += 1;
        t
    }
    fn keyword(&self, k: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(w)) if w == k)
    }
    fn or(&mut self) -> Result<Rule, String> {
        let mut left = self.and()?;
        while self.keyword("or") {
            self.at += 1;
            left = Rule::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }
    fn and(&mut self) -> Result<Rule, String> {
        let mut left = self.atom()?;
        while self.keyword("and") {
            self.at += 1;
            left = Rule::And(Box::new(left), Box::new(self.atom()?));
        }
        Ok(left)
    }
    fn atom(&mut self) -> Result<Rule, String> {
        match self.next() {
            Some(Tok::LParen) => {
                self.depth += 1;
                if self.depth > MAX_RULE_DEPTH {
                    return Err(format!(
                        "parentheses nest more than {MAX_RULE_DEPTH} deep: split the rule into several checks"
                    ));
                }
                let r = self.or()?;
                self.depth -= 1;
                match self.next() {
                    Some(Tok::RParen) => Ok(r),
                    _ => Err("missing `)`".into()),
                }
            }
            Some(Tok::Ident(name)) => {
                self.terms += 1;
                if self.terms > MAX_RULE_TERMS {
                    return Err(format!(
                        "the rule holds more than {MAX_RULE_TERMS} comparisons: split it into several checks"
                    ));
                }
                let op = match self.next() {
                    Some(Tok::Op(op)) => op,
                    _ => {
                        return Err(format!(
                            "expected an operator (== != < <= > >=) after `{name}`"
                        ));
                    }
                };
                let value = match self.next() {
                    Some(Tok::Num(n)) => Lit::Num(n),
                    Some(Tok::Str(s)) => Lit::Str(s),
                    Some(Tok::Ident(w)) if w == "true" || w == "false" => Lit::Bool(w == "true"),
                    Some(Tok::Ident(w)) if w == "null" => Lit::Null,
                    Some(Tok::Ident(w)) => {
                        return Err(format!("`{w}` is not a value: quote strings, as in '{w}'"));
                    }
                    _ => return Err(format!("expected a value after `{name}`")),
                };
                if name == "count" {
                    match value {
                        Lit::Num(n) => Ok(Rule::Count { op, value: n }),
                        _ => Err("`count` compares with a number".into()),
                    }
                } else {
                    Ok(Rule::Cmp {
                        column: name,
                        op,
                        value,
                    })
                }
            }
            Some(t) => Err(format!("expected a column name, `count` or `(`, found {t}")),
            None => Err("the rule ends too early".into()),
        }
    }
}

impl Rule {
    /// Parses a rule, or says what is wrong with it.
    pub fn parse(text: &str) -> Result<Rule, String> {
        let toks = tokenize(text)?;
        if toks.is_empty() {
            return Err("the rule is empty".into());
        }
        let mut p = RuleParser {
            toks,
            at: 0,
            depth: 0,
            terms: 0,
        };
        let rule = p.or()?;
        match p.peek() {
            None => Ok(rule),
            Some(t) => Err(format!(
                "unexpected {t} after a complete rule: join rules with `and` / `or`"
            )),
        }
    }

    fn columns<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Rule::Cmp { column, .. } => out.push(column),
            Rule::Count { .. } => {}
            Rule::And(a, b) | Rule::Or(a, b) => {
                a.columns(out);
                b.columns(out);
            }
        }
    }
}

fn compare<T: PartialOrd>(a: &T, op: Op, b: &T) -> bool {
    match op {
        Op::Eq => a == b,
        Op::Ne => a != b,
        Op::Lt => a < b,
        Op::Le => a <= b,
        Op::Gt => a > b,
        Op::Ge => a >= b,
    }
}

/// A cell value.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Null,
    Num(f64),
    Str(String),
    Bool(bool),
}

fn cell(array: &dyn Array, i: usize) -> Result<Cell, String> {
    if array.is_null(i) {
        return Ok(Cell::Null);
    }
    let any = array.as_any();
    if let Some(a) = any.downcast_ref::<Float64Array>() {
        Ok(Cell::Num(a.value(i)))
    } else if let Some(a) = any.downcast_ref::<Int64Array>() {
        Ok(Cell::Num(a.value(i) as f64))
    } else if let Some(a) = any.downcast_ref::<Int32Array>() {
        Ok(Cell::Num(f64::from(a.value(i))))
    } else if let Some(a) = any.downcast_ref::<StringArray>() {
        Ok(Cell::Str(a.value(i).to_owned()))
    } else if let Some(a) = any.downcast_ref::<BooleanArray>() {
        Ok(Cell::Bool(a.value(i)))
    } else {
        Err(format!(
            "columns of type {:?} cannot be checked",
            array.data_type()
        ))
    }
}

fn eval_cmp(c: &Cell, op: Op, lit: &Lit) -> Result<bool, String> {
    Ok(match (c, lit) {
        (Cell::Null, Lit::Null) => op == Op::Eq,
        (_, Lit::Null) => op == Op::Ne,
        (Cell::Null, _) => false,
        (Cell::Num(a), Lit::Num(b)) => compare(a, op, b),
        (Cell::Str(a), Lit::Str(b)) => compare(a, op, b),
        (Cell::Bool(a), Lit::Bool(b)) => compare(a, op, b),
        (c, l) => {
            let found = match c {
                Cell::Num(x) => format!("{x} (a number)"),
                Cell::Str(x) => format!("'{x}' (a string)"),
                Cell::Bool(x) => format!("{x} (a boolean)"),
                Cell::Null => "null".into(),
            };
            return Err(format!(
                "the column holds {found}, which cannot be compared with {l}: compare numbers with numbers and quote strings"
            ));
        }
    })
}

fn eval(rule: &Rule, batch: Option<(&RecordBatch, usize)>, count: usize) -> Result<bool, String> {
    match rule {
        Rule::Count { op, value } => Ok(compare(&(count as f64), *op, value)),
        Rule::And(a, b) => Ok(eval(a, batch, count)? && eval(b, batch, count)?),
        Rule::Or(a, b) => Ok(eval(a, batch, count)? || eval(b, batch, count)?),
        Rule::Cmp { column, op, value } => {
            let (batch, i) = batch.ok_or("internal: a column rule evaluated without a row")?;
            let array = batch
                .column_by_name(column)
                .ok_or_else(|| format!("the table has no column `{column}`"))?;
            eval_cmp(&cell(array.as_ref(), i)?, *op, value)
        }
    }
}

/// The result of one rule on one table.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub passed: bool,
    /// Why it failed: the failing rows' keys, or the error.
    pub detail: String,
    pub failing_rows: usize,
    pub rows: usize,
}

/// Evaluates a rule on a Parquet table file.
pub fn evaluate(rule: &Rule, path: &Path) -> Outcome {
    let fail = |detail: String| Outcome {
        passed: false,
        detail,
        failing_rows: 0,
        rows: 0,
    };
    let table = match tables::read_any(path) {
        Ok(t) => t,
        Err(e) => return fail(format!("cannot read the table: {e}")),
    };
    let rows: usize = table.batches.iter().map(RecordBatch::num_rows).sum();
    let mut columns = Vec::new();
    rule.columns(&mut columns);
    for c in &columns {
        if table.schema.field_with_name(c).is_err() {
            return fail(format!("the table has no column `{c}`"));
        }
    }
    if columns.is_empty() {
        return match eval(rule, None, rows) {
            Ok(true) => Outcome {
                passed: true,
                detail: String::new(),
                failing_rows: 0,
                rows,
            },
            Ok(false) => Outcome {
                passed: false,
                detail: format!("the table has {rows} rows"),
                failing_rows: 0,
                rows,
            },
            Err(e) => fail(e),
        };
    }
    let keys = table
        .meta
        .get("agingflow.table")
        .and_then(tables::keys_of)
        .map(|k| k.to_vec())
        .unwrap_or_default();
    let mut failing = 0;
    let mut shown = String::new();
    let mut row_index = 0;
    for batch in &table.batches {
        for i in 0..batch.num_rows() {
            match eval(rule, Some((batch, i)), rows) {
                Ok(true) => {}
                Ok(false) => {
                    failing += 1;
                    if failing <= 10 {
                        let _ = writeln!(
                            shown,
                            "  row {row_index}: {}",
                            describe_row(batch, i, &keys, &columns)
                        );
                    }
                }
                Err(e) => return fail(format!("row {row_index}: {e}")),
            }
            row_index += 1;
        }
    }
    if failing > 10 {
        let _ = writeln!(shown, "  ... and {} more", failing - 10);
    }
    Outcome {
        passed: failing == 0,
        detail: if failing == 0 {
            String::new()
        } else {
            format!("{failing} of {rows} rows fail\n{shown}")
        },
        failing_rows: failing,
        rows,
    }
}

fn describe_row(batch: &RecordBatch, i: usize, keys: &[&str], columns: &[&str]) -> String {
    let mut parts = Vec::new();
    for name in keys.iter().chain(columns.iter()) {
        if parts
            .iter()
            .any(|p: &String| p.starts_with(&format!("{name}=")))
        {
            continue;
        }
        if let Some(a) = batch.column_by_name(name) {
            let v = match cell(a.as_ref(), i) {
                Ok(Cell::Null) => "null".to_owned(),
                Ok(Cell::Num(x)) => format!("{x}"),
                Ok(Cell::Str(s)) => format!("'{s}'"),
                Ok(Cell::Bool(b)) => b.to_string(),
                Err(_) => "?".to_owned(),
            };
            parts.push(format!("{name}={v}"));
        }
    }
    parts.join(" ")
}

/// One evaluated rule, for reports.
#[derive(Debug, Clone)]
pub struct CheckResult {
    pub stage: String,
    pub port: String,
    pub expect: String,
    pub outcome: Outcome,
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML: one test case per rule, a failure per rule that does not hold.
pub fn junit(pipeline: &str, results: &[CheckResult]) -> String {
    let failures = results.iter().filter(|r| !r.outcome.passed).count();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"agingflow checks\" tests=\"{}\" failures=\"{failures}\">",
        results.len()
    );
    let _ = writeln!(
        x,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\">",
        xml_escape(pipeline),
        results.len()
    );
    for r in results {
        let name = xml_escape(&format!("{}: {}", r.port, r.expect));
        let class = xml_escape(&r.stage);
        if r.outcome.passed {
            let _ = writeln!(x, "    <testcase classname=\"{class}\" name=\"{name}\"/>");
        } else {
            let first = r.outcome.detail.lines().next().unwrap_or("failed");
            let _ = writeln!(x, "    <testcase classname=\"{class}\" name=\"{name}\">");
            let _ = writeln!(
                x,
                "      <failure message=\"{}\">{}</failure>",
                xml_escape(first),
                xml_escape(&r.outcome.detail)
            );
            let _ = writeln!(x, "    </testcase>");
        }
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_contract_examples() {
        assert_eq!(
            Rule::parse("status == 'ok'").unwrap(),
            Rule::Cmp {
                column: "status".into(),
                op: Op::Eq,
                value: Lit::Str("ok".into())
            }
        );
        assert!(matches!(
            Rule::parse("r_squared >= 0.99").unwrap(),
            Rule::Cmp { op: Op::Ge, .. }
        ));
        assert_eq!(
            Rule::parse("count >= 10").unwrap(),
            Rule::Count {
                op: Op::Ge,
                value: 10.0
            }
        );
        // `and` binds tighter than `or`.
        let r = Rule::parse("a > 1 or b < -2.5e-3 and c != null").unwrap();
        assert!(matches!(r, Rule::Or(_, ref rhs) if matches!(**rhs, Rule::And(..))));
        assert!(Rule::parse("(a > 1 or b > 2) and count > 0").is_ok());
    }

    #[test]
    fn refuses_bad_rules() {
        for bad in [
            "",
            "status = 'ok'",
            "status == ok",
            "beta >",
            "count >= 'x'",
            "a > 1 b > 2",
            "(a > 1",
            "s == 'x",
        ] {
            assert!(Rule::parse(bad).is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn null_and_nan_compare_false() {
        assert!(!eval_cmp(&Cell::Null, Op::Ge, &Lit::Num(0.0)).unwrap());
        assert!(eval_cmp(&Cell::Null, Op::Eq, &Lit::Null).unwrap());
        assert!(!eval_cmp(&Cell::Num(f64::NAN), Op::Le, &Lit::Num(1.0)).unwrap());
        assert!(eval_cmp(&Cell::Num(1.0), Op::Ne, &Lit::Null).unwrap());
        assert!(eval_cmp(&Cell::Str("a".into()), Op::Eq, &Lit::Num(1.0)).is_err());
    }
}
