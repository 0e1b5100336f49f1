//! File-name patterns of `agingflow init`: `{material}/{temperature_k}K_{aging_time_s}s` matched against the end of a path, giving the values it names.

use super::*;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Piece {
    Lit(String),
    Field(Field),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Field {
    Material,
    Series,
    Id,
    TemperatureK,
    TemperatureC,
    /// Aging time in the given unit (s, min, h, d); `None`: the value carries its unit (`30min`).
    AgingTime(Option<f64>),
    Strain,
    StrainPct,
    TipRadiusNm,
    /// `{*}`: anything within one path component.
    Any,
}

impl Field {
    fn parse(name: &str) -> Option<Field> {
        Some(match name {
            "material" => Field::Material,
            "series" | "condition" => Field::Series,
            "id" => Field::Id,
            "temperature_k" => Field::TemperatureK,
            "temperature_c" => Field::TemperatureC,
            "aging_time_s" => Field::AgingTime(Some(1.0)),
            "aging_time_min" => Field::AgingTime(Some(60.0)),
            "aging_time_h" => Field::AgingTime(Some(3600.0)),
            "aging_time_d" => Field::AgingTime(Some(86400.0)),
            "aging_time" => Field::AgingTime(None),
            "strain" => Field::Strain,
            "strain_pct" => Field::StrainPct,
            "tip_radius_nm" => Field::TipRadiusNm,
            "*" => Field::Any,
            _ => return None,
        })
    }
    fn numeric(self) -> bool {
        !matches!(
            self,
            Field::Material | Field::Series | Field::Id | Field::Any | Field::AgingTime(None)
        )
    }
}

/// A file-name pattern: literal text and `{field}`s.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    pub(super) text: String,
    pub(super) pieces: Vec<Piece>,
}

pub(super) const FIELDS: &str = "material, series, id, temperature_k, temperature_c, aging_time_s, aging_time_min, aging_time_h, aging_time_d, aging_time (a number with its unit: 30min, 2h), strain, strain_pct, tip_radius_nm, *";

impl Pattern {
    pub fn parse(text: &str) -> Result<Pattern, String> {
        let mut pieces = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            match rest.find('{') {
                Some(0) => {
                    let close = rest
                        .find('}')
                        .ok_or_else(|| format!("pattern `{text}`: a `{{` without its `}}`"))?;
                    let name = &rest[1..close];
                    let f = Field::parse(name).ok_or_else(|| {
                        format!("pattern `{text}`: unknown field `{{{name}}}`; fields: {FIELDS}")
                    })?;
                    if matches!(pieces.last(), Some(Piece::Field(_))) {
                        return Err(format!(
                            "pattern `{text}`: two fields with nothing between them cannot be told apart"
                        ));
                    }
                    let same = |g: &Field| std::mem::discriminant(g) == std::mem::discriminant(&f);
                    if f != Field::Any
                        && pieces
                            .iter()
                            .any(|p| matches!(p, Piece::Field(g) if same(g)))
                    {
                        return Err(format!(
                            "pattern `{text}`: `{{{name}}}` appears twice; name each field once (a literal folder name needs no field)"
                        ));
                    }
                    pieces.push(Piece::Field(f));
                    rest = &rest[close + 1..];
                }
                Some(i) => {
                    pieces.push(Piece::Lit(rest[..i].to_owned()));
                    rest = &rest[i..];
                }
                None => {
                    pieces.push(Piece::Lit(rest.to_owned()));
                    rest = "";
                }
            }
        }
        if !pieces.iter().any(|p| matches!(p, Piece::Field(_))) {
            return Err(format!("pattern `{text}` has no `{{field}}`"));
        }
        Ok(Pattern {
            text: text.to_owned(),
            pieces,
        })
    }

    /// Matches the end of `path` (components joined by `/`, no extension), starting at a
    /// component boundary; the captured values.
    pub(super) fn match_tail(&self, path: &str) -> Option<Values> {
        let starts = std::iter::once(0).chain(path.match_indices('/').map(|(i, _)| i + 1));
        for s in starts {
            let mut caps = Vec::new();
            if self.match_at(&path[s..], 0, &mut caps) {
                return Values::from_captures(&caps);
            }
        }
        None
    }

    fn match_at<'a>(&self, s: &'a str, k: usize, caps: &mut Vec<(Field, &'a str)>) -> bool {
        let Some(piece) = self.pieces.get(k) else {
            return s.is_empty();
        };
        match piece {
            Piece::Lit(l) => s
                .strip_prefix(l.as_str())
                .is_some_and(|rest| self.match_at(rest, k + 1, caps)),
            Piece::Field(f) => {
                // Shortest first: a field never spans a `/`.
                let limit = s.find('/').unwrap_or(s.len());
                for end in 1..=limit {
                    if !s.is_char_boundary(end) {
                        continue;
                    }
                    let v = &s[..end];
                    if f.numeric() && !v.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
                        break;
                    }
                    caps.push((*f, v));
                    if self.match_at(&s[end..], k + 1, caps) {
                        return true;
                    }
                    caps.pop();
                }
                false
            }
        }
    }
}
