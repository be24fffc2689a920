//! What an outbox row's `values` may say, checked against the allow-list and Odoo's fields, and
//! how each kind of value reaches Odoo: a `load` cell (records we own, by external id) or a
//! `write` value (records Odoo owns, and every many2many change).
//!
//! The forms (docs/DESIGN.md, "Write-back"):
//! - a plain field: a JSON string, number, boolean or null (null clears it);
//! - a many2one: an Odoo id (integer), our external key of the related record (string), or null;
//! - a many2many: `{"add": [ref, ...], "remove": [ref, ...]}`, each ref an Odoo id or our key.
//!   Never the whole set: a partner's tags that we did not set are never touched.

use odoo_client::FieldInfo;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The module of every external id we create in Odoo (`odoo_sync.<model>__<key>`).
pub const MODULE: &str = "odoo_sync";

/// Our external id in Odoo for the record `key` of `model`.
pub fn external_id(model: &str, key: &str) -> String {
    format!("{MODULE}.{}__{key}", model.replace('.', "_"))
}

/// A reference to another record: its Odoo id, or our key of it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Ref {
    Id(i64),
    Key(String),
}

/// One field's change, validated.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// A plain value, as JSON.
    Plain(Value),
    /// A many2one to the record `Ref` of `relation`, or cleared (None).
    One { relation: String, to: Option<Ref> },
    /// Many2many link (true) / unlink (false) commands, in the row's order.
    Many { relation: String, commands: Vec<(bool, Ref)> },
}

/// The (model, field) pairs that may be written (scout.writeback_fields).
#[derive(Clone, Debug, Default)]
pub struct AllowList(pub BTreeSet<(String, String)>);

impl AllowList {
    pub fn allows(&self, model: &str, field: &str) -> bool {
        self.0.contains(&(model.to_owned(), field.to_owned()))
    }

    /// Whether any field of `model` may be written.
    pub fn knows(&self, model: &str) -> bool {
        self.0.iter().any(|(m, _)| m == model)
    }
}

fn reference(v: &Value, field: &str) -> Result<Ref, String> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .filter(|&i| i > 0)
            .map(Ref::Id)
            .ok_or_else(|| format!("{field}: {n} is not an Odoo id (a positive integer)")),
        Value::String(s) if !s.is_empty() => Ok(Ref::Key(s.clone())),
        other => Err(format!("{field}: {other} is neither an Odoo id nor one of our keys")),
    }
}

/// Whether every field a row writes is on the allow-list (`archive` writes `active`); checked
/// before anything is asked of Odoo.
pub fn check_allowed(
    model: &str,
    values: &Map<String, Value>,
    archive: bool,
    allowed: &AllowList,
) -> Result<(), String> {
    let extra = archive.then_some("active");
    match values.keys().map(String::as_str).chain(extra).find(|f| !allowed.allows(model, f)) {
        Some(field) => Err(format!("{model}.{field} is not on scout.writeback_fields")),
        // A row with nothing to write still needs its model allowed: else an empty write of a
        // model nothing may be written to would be reported sent.
        None if !allowed.knows(model) => Err(format!("no field of {model} is on scout.writeback_fields")),
        None => Ok(()),
    }
}

/// Checks a row's values against the allow-list and Odoo's fields of its model.
/// `archive` adds `active = false` (and needs `active` on the allow-list).
pub fn changes(
    model: &str,
    values: &Map<String, Value>,
    archive: bool,
    allowed: &AllowList,
    fields: &BTreeMap<String, FieldInfo>,
) -> Result<BTreeMap<String, Change>, String> {
    check_allowed(model, values, archive, allowed)?;
    let mut out = BTreeMap::new();
    let mut named: Vec<(&str, &Value)> = values.iter().map(|(k, v)| (k.as_str(), v)).collect();
    if archive {
        named.push(("active", &Value::Bool(false)));
    }
    for (field, v) in named {
        let info = fields.get(field).ok_or_else(|| format!("this Odoo's {model} has no field {field}"))?;
        let relation = || info.relation.clone().unwrap_or_default();
        let change = match info.kind.as_str() {
            "many2one" => Change::One {
                relation: relation(),
                to: match v {
                    Value::Null | Value::Bool(false) => None,
                    other => Some(reference(other, field)?),
                },
            },
            "many2many" => {
                let Value::Object(cmds) = v else {
                    return Err(format!(
                        "{field} is a many2many: give {{\"add\": [...], \"remove\": [...]}}, not {v} \
                         (the whole set is never replaced)"
                    ));
                };
                let mut commands = Vec::new();
                for (verb, refs) in cmds {
                    let link = match verb.as_str() {
                        "add" => true,
                        "remove" => false,
                        other => return Err(format!("{field}: \"{other}\" is not add or remove")),
                    };
                    let Value::Array(refs) = refs else { return Err(format!("{field}.{verb} must be a list")) };
                    for r in refs {
                        commands.push((link, reference(r, field)?));
                    }
                }
                Change::Many { relation: relation(), commands }
            }
            "one2many" | "binary" | "properties" | "json" | "reference" | "many2one_reference" => {
                return Err(format!("{field} is a {} field, which write-back does not write", info.kind))
            }
            _ => match v {
                Value::Array(_) | Value::Object(_) => return Err(format!("{field} takes a plain value, not {v}")),
                plain => Change::Plain(plain.clone()),
            },
        };
        out.insert(field.to_owned(), change);
    }
    Ok(out)
}

/// A plain or many2one change as one `load` cell (the column's name and the cell's text), `known`
/// resolving nothing: load finds related records by external id itself. None for a many2many
/// change, which `load` cannot express: those go through `write`.
pub fn load_cell(field: &str, change: &Change) -> Option<(String, String)> {
    Some(match change {
        Change::Plain(v) => (
            field.to_owned(),
            match v {
                Value::String(s) => s.clone(),
                Value::Bool(true) => "1".into(),
                Value::Bool(false) => "0".into(),
                Value::Null => String::new(),
                other => other.to_string(),
            },
        ),
        Change::One { to: None, .. } => (format!("{field}/id"), String::new()),
        Change::One { to: Some(Ref::Id(id)), .. } => (format!("{field}/.id"), id.to_string()),
        Change::One { relation, to: Some(Ref::Key(k)) } => (format!("{field}/id"), external_id(relation, k)),
        Change::Many { .. } => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields() -> BTreeMap<String, FieldInfo> {
        let f = |kind: &str, rel: Option<&str>| FieldInfo {
            kind: kind.into(),
            relation: rel.map(String::from),
            store: Some(true),
        };
        BTreeMap::from([
            ("name".into(), f("char", None)),
            ("color".into(), f("integer", None)),
            ("active".into(), f("boolean", None)),
            ("parent_id".into(), f("many2one", Some("res.partner.category"))),
            ("partner_ids".into(), f("many2many", Some("res.partner"))),
            ("child_ids".into(), f("one2many", Some("res.partner.category"))),
        ])
    }

    fn allowed(pairs: &[&str]) -> AllowList {
        AllowList(pairs.iter().map(|f| ("res.partner.category".to_string(), f.to_string())).collect())
    }

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn plain_relations_and_commands_are_read_in_their_forms() {
        let a = allowed(&["name", "parent_id", "partner_ids"]);
        let c = changes(
            "res.partner.category",
            &map(json!({"name": "VIP", "parent_id": "top", "partner_ids": {"add": [7, "x"], "remove": [9]}})),
            false,
            &a,
            &fields(),
        )
        .unwrap();
        assert_eq!(c["name"], Change::Plain(json!("VIP")));
        assert_eq!(
            c["parent_id"],
            Change::One { relation: "res.partner.category".into(), to: Some(Ref::Key("top".into())) }
        );
        assert_eq!(
            c["partner_ids"],
            Change::Many {
                relation: "res.partner".into(),
                commands: vec![(true, Ref::Id(7)), (true, Ref::Key("x".into())), (false, Ref::Id(9))]
            }
        );
        assert_eq!(
            load_cell("parent_id", &c["parent_id"]),
            Some(("parent_id/id".into(), "odoo_sync.res_partner_category__top".into()))
        );
        assert_eq!(load_cell("name", &c["name"]), Some(("name".into(), "VIP".into())));
        assert_eq!(load_cell("partner_ids", &c["partner_ids"]), None, "many2many goes through write");
    }

    #[test]
    fn what_is_not_allowed_or_not_writable_is_refused_with_its_reason() {
        let a = allowed(&["name", "partner_ids", "child_ids"]);
        let f = fields();
        let refuse = |v: Value, archive: bool| changes("res.partner.category", &map(v), archive, &a, &f).unwrap_err();
        assert!(
            refuse(json!({"color": 3}), false).contains("res.partner.category.color is not on scout.writeback_fields")
        );
        assert!(refuse(json!({}), true).contains(".active is not on"), "archive needs active allowed");
        assert!(refuse(json!({"partner_ids": [1, 2]}), false).contains("never replaced"));
        assert!(refuse(json!({"partner_ids": {"set": [1]}}), false).contains("not add or remove"));
        assert!(refuse(json!({"partner_ids": {"add": [0]}}), false).contains("not an Odoo id"));
        assert!(refuse(json!({"child_ids": {"add": [1]}}), false).contains("one2many"));
        assert!(refuse(json!({"name": ["a"]}), false).contains("plain value"));
        let a2 = AllowList([("res.partner.category".to_string(), "nope".to_string())].into());
        assert!(changes("res.partner.category", &map(json!({"nope": 1})), false, &a2, &f)
            .unwrap_err()
            .contains("has no field nope"));
    }

    #[test]
    fn load_cells_are_odoo_import_text() {
        let text = |field, v| load_cell(field, &Change::Plain(v)).map(|(_, text)| text);
        assert_eq!(text("active", json!(false)).as_deref(), Some("0"));
        assert_eq!(text("color", json!(3)).as_deref(), Some("3"));
        assert_eq!(text("name", Value::Null).as_deref(), Some(""));
        let one = |to| Change::One { relation: "res.partner.category".into(), to };
        assert_eq!(load_cell("parent_id", &one(Some(Ref::Id(5)))), Some(("parent_id/.id".into(), "5".into())));
        assert_eq!(load_cell("parent_id", &one(None)), Some(("parent_id/id".into(), String::new())));
    }
}
