//! The shapes of Odoo's field values, and a streaming scan of a page of records that reads
//! each record's id and write_date and finds the first value whose shape does not match its
//! field's type. Values stay borrowed slices of the page's text: nothing is copied, and each is
//! judged by its first bytes. (What the sync does with a misshapen record is not decided here.)

use crate::time::{odoo_date, parse_odoo};
use crate::FieldInfo;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// The JSON shape a field's values must have, from its `fields_get` type. Odoo renders an empty
/// value as `false` for every type but boolean, number and x2many.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// many2one: false or [id, "display name"]
    Many2one,
    /// one2many, many2many: a list of ids
    IdList,
    Integer,
    /// float, monetary
    Number,
    Boolean,
    /// char, text, html: a string or false
    Text,
    /// selection: its key (a string, rarely a number) or false
    Selection,
    /// "YYYY-MM-DD" or false
    Date,
    /// "YYYY-MM-DD HH:MM:SS" (UTC) or false
    Datetime,
    /// binary, json, properties, reference, and anything newer: not judged
    Any,
}

impl Shape {
    pub fn of(odoo_type: &str) -> Shape {
        match odoo_type {
            "many2one" => Shape::Many2one,
            "one2many" | "many2many" => Shape::IdList,
            "integer" => Shape::Integer,
            "float" | "monetary" => Shape::Number,
            "boolean" => Shape::Boolean,
            "char" | "text" | "html" => Shape::Text,
            "selection" => Shape::Selection,
            "date" => Shape::Date,
            "datetime" => Shape::Datetime,
            _ => Shape::Any,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Shape::Many2one => "false or [id, name]",
            Shape::IdList => "a list of integer ids",
            Shape::Integer => "an integer",
            Shape::Number => "a number",
            Shape::Boolean => "true or false",
            Shape::Text => "a string or false",
            Shape::Selection => "a selection key or false",
            Shape::Date => "a date YYYY-MM-DD or false",
            Shape::Datetime => "a datetime YYYY-MM-DD HH:MM:SS or false",
            Shape::Any => "anything",
        }
    }

    /// Whether `v` (the raw JSON text of one valid JSON value) has this shape.
    fn accepts(self, v: &str) -> bool {
        let b = v.as_bytes();
        let first = b.first().copied().unwrap_or(b' ');
        let number = first == b'-' || first.is_ascii_digit();
        let string = first == b'"';
        match self {
            Shape::Any => true,
            Shape::Boolean => v == "true" || v == "false",
            _ if v == "false" => self != Shape::IdList,
            Shape::Number => number,
            Shape::Integer => number && !v.bytes().any(|c| matches!(c, b'.' | b'e' | b'E')),
            Shape::Text => string,
            Shape::Selection => string || number,
            Shape::Date => string && v.len() == 12 && odoo_date(&v[1..11]).is_some(),
            Shape::Datetime => string && v.len() == 21 && parse_odoo(&v[1..20]).is_some(),
            // Valid JSON made of these bytes only is a flat list of integers.
            Shape::IdList => {
                first == b'['
                    && b[1..]
                        .iter()
                        .all(|c| c.is_ascii_digit() || c.is_ascii_whitespace() || matches!(c, b']' | b',' | b'-'))
            }
            Shape::Many2one => first == b'[' && starts_with_integer_and_more(&b[1..]),
        }
    }
}

/// `  123 , ...`: an integer first element followed by another element.
fn starts_with_integer_and_more(b: &[u8]) -> bool {
    let mut i = b.iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(b.len());
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    let digits = b[i.min(b.len())..].iter().take_while(|c| c.is_ascii_digit()).count();
    let rest = &b[(i + digits).min(b.len())..];
    digits > 0 && rest.iter().find(|c| !c.is_ascii_whitespace()) == Some(&b',')
}

/// The shape of every field a run asks for, by name.
pub type Shapes = HashMap<String, Shape>;

/// The shapes of these fields from a model's `fields_get` answer. `id` and `write_date` are
/// left out: a page's check reads them on its own.
pub fn shapes_of(fields_get: &BTreeMap<String, FieldInfo>, fields: &[String]) -> Shapes {
    fields
        .iter()
        .filter(|f| *f != "id" && *f != "write_date")
        .filter_map(|f| fields_get.get(f).map(|info| (f.clone(), Shape::of(&info.kind))))
        .collect()
}

/// What one record of a page is, as far as the checks need.
pub struct RecordHead<'a> {
    pub id: Option<&'a RawValue>,
    pub write_date: Option<&'a RawValue>,
    /// The first field whose value does not have its shape: (field, shape, value).
    pub misshapen: Option<(String, Shape, &'a RawValue)>,
    /// The first field whose value holds a NUL character (`\u0000`), which PostgreSQL's text and
    /// jsonb cannot store: (field, value).
    pub nul: Option<(String, &'a RawValue)>,
}

/// Whether JSON text holds a `\u0000` escape (not an escaped backslash followed by "u0000").
pub fn has_nul_escape(text: &str) -> bool {
    let b = text.as_bytes();
    text.match_indices("\\u0000").any(|(i, _)| b[..i].iter().rev().take_while(|&&c| c == b'\\').count() % 2 == 0)
}

/// `.1` of the seed: whether the page has a NUL escape anywhere (one fast search of the page;
/// values are searched only then).
struct RecordSeed<'s>(&'s Shapes, bool);

impl<'de> DeserializeSeed<'de> for RecordSeed<'_> {
    type Value = RecordHead<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<RecordHead<'de>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RecordSeed<'_> {
    type Value = RecordHead<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a record (a JSON object)")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RecordHead<'de>, A::Error> {
        let mut head = RecordHead { id: None, write_date: None, misshapen: None, nul: None };
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let value: &'de RawValue = map.next_value()?;
            if self.1 && head.nul.is_none() && has_nul_escape(value.get()) {
                head.nul = Some((key.as_str().to_owned(), value));
            }
            match key.as_str() {
                "id" => head.id = Some(value),
                "write_date" => head.write_date = Some(value),
                name => {
                    if head.misshapen.is_none() {
                        if let Some(&shape) = self.0.get(name) {
                            if !shape.accepts(value.get()) {
                                head.misshapen = Some((name.to_owned(), shape, value));
                            }
                        }
                    }
                }
            }
        }
        Ok(head)
    }
}

/// A field name, borrowed from the page (copied only if it had escapes, which Odoo never sends).
enum Key<'a> {
    Borrowed(&'a str),
    Owned(String),
}

impl Key<'_> {
    fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(s) => s,
            Key::Owned(s) => s,
        }
    }
}

struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Key<'de>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Key<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
        Ok(Key::Borrowed(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
        Ok(Key::Owned(v.to_owned()))
    }
}

struct PageSeed<'s>(&'s Shapes, bool);

impl<'de> DeserializeSeed<'de> for PageSeed<'_> {
    type Value = Vec<RecordHead<'de>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<RecordHead<'de>>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for PageSeed<'_> {
    type Value = Vec<RecordHead<'de>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of records")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<RecordHead<'de>>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(h) = seq.next_element_seed(RecordSeed(self.0, self.1))? {
            out.push(h);
        }
        Ok(out)
    }
}

/// Reads a page (a JSON list of records): each record's id, write_date and first misshapen
/// value. An error says why the text is not a list of records.
pub fn scan_page<'a>(page: &'a str, shapes: &Shapes) -> Result<Vec<RecordHead<'a>>, String> {
    let mut de = serde_json::Deserializer::from_str(page);
    PageSeed(shapes, has_nul_escape(page))
        .deserialize(&mut de)
        .and_then(|h| de.end().map(|_| h))
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn shapes_accept_what_odoo_sends_and_nothing_else() {
        let cases: &[(Shape, &[&str], &[&str])] = &[
            (
                Shape::Many2one,
                &["false", "[1, \"Shop\"]", "[12,\"x\"]", "[ 3 , false]"],
                &["1", "\"1\"", "[\"a\", \"b\"]", "[1.5, \"x\"]", "[]", "[1]", "true", "null"],
            ),
            (Shape::IdList, &["[]", "[1, 2, 3]", "[7]"], &["false", "[\"1\"]", "[1.5]", "[[1]]", "[true]", "null"]),
            (Shape::Integer, &["0", "-3", "42", "false"], &["1.5", "1e3", "\"3\"", "true", "null"]),
            (Shape::Number, &["0", "-3.25", "1e-7", "false"], &["\"3.25\"", "true", "[1]", "null"]),
            (Shape::Boolean, &["true", "false"], &["0", "\"true\"", "null"]),
            (Shape::Text, &["\"\"", "\"a b\"", "false"], &["1", "true", "[\"a\"]", "null"]),
            (Shape::Selection, &["\"done\"", "3", "false"], &["true", "[1]", "null"]),
            (
                Shape::Date,
                &["\"2026-11-25\"", "false"],
                &["\"2026-13-01\"", "\"2026-02-31\"", "\"25/11/2026\"", "\"2026-11-25 10:00:00\"", "20261125"],
            ),
            (
                Shape::Datetime,
                &["\"2026-11-25 13:24:44\"", "\"2028-02-29 00:00:00\"", "false"],
                &["\"2026-11-25\"", "\"yesterday\"", "\"2026-11-25 25:00:00\"", "\"2026-02-29 10:00:00\"", "1"],
            ),
            (Shape::Any, &["null", "{\"a\": 1}", "\"x\""], &[]),
        ];
        for (shape, good, bad) in cases {
            for v in *good {
                assert!(shape.accepts(v), "{shape:?} should accept {v}");
            }
            for v in *bad {
                assert!(!shape.accepts(v), "{shape:?} should refuse {v}");
            }
        }
    }

    #[test]
    fn a_page_scan_finds_the_first_misshapen_value() {
        let shapes: Shapes =
            [("company_id".to_owned(), Shape::Many2one), ("amount_total".to_owned(), Shape::Number)].into();
        let ok = r#"[{"id": 1, "write_date": "2026-11-25 13:24:41", "company_id": [1, "C"], "amount_total": 4.81, "other": null}]"#;
        let heads = scan_page(ok, &shapes).unwrap();
        assert_eq!((heads.len(), heads[0].id.map(|v| v.get()), heads[0].misshapen.is_none()), (1, Some("1"), true));
        let wrong = r#"[{"id": 1, "write_date": "x", "company_id": "Company 1", "amount_total": "4.81"}]"#;
        let heads = scan_page(wrong, &shapes).unwrap();
        let (field, shape, value) = heads[0].misshapen.as_ref().unwrap();
        assert_eq!((field.as_str(), *shape, value.get()), ("company_id", Shape::Many2one, "\"Company 1\""));
        let escaped = r#"[{"id": 1, "comp\u0061ny_id": 5}]"#;
        assert!(scan_page(escaped, &shapes).unwrap()[0].misshapen.is_some(), "an escaped field name is still checked");
        assert!(scan_page("[] []", &shapes).is_err());
        assert!(scan_page(r#"{"id": 1}"#, &shapes).is_err());
        assert!(scan_page(r#"[1]"#, &shapes).is_err());
    }

    #[test]
    fn a_nul_character_is_found_but_an_escaped_backslash_is_not_one() {
        let shapes = Shapes::new();
        let page = r#"[{"id": 1, "name": "ok"}, {"id": 2, "name": "nul\u0000byte"}]"#;
        let heads = scan_page(page, &shapes).unwrap();
        assert!(heads[0].nul.is_none());
        let (field, value) = heads[1].nul.as_ref().unwrap();
        assert_eq!((field.as_str(), value.get()), ("name", r#""nul\u0000byte""#));
        assert!(has_nul_escape(r#""\u0000""#));
        assert!(!has_nul_escape(r#""a\\u0000""#), "an escaped backslash, then the text u0000");
        assert!(has_nul_escape(r#""a\\\u0000""#));
    }
}
