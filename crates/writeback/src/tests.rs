//! `send` against a small fake Odoo that keeps records, external ids and many2many sets, and
//! can refuse or drop calls.

use super::*;
use odoo_client::{FieldInfo, LoadMessage};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Default)]
struct Fake {
    /// (model, id) -> plain values
    records: BTreeMap<(String, i64), Map<String, Value>>,
    /// partner id -> tag ids
    tags: BTreeMap<i64, BTreeSet<i64>>,
    xmlids: BTreeMap<String, i64>,
    next_id: i64,
    calls: Vec<String>,
    /// Fail the call with this number (0-based) as transient.
    drop_call: Option<usize>,
}

fn info(kind: &str, rel: Option<&str>) -> FieldInfo {
    FieldInfo { kind: kind.into(), relation: rel.map(String::from), store: Some(true) }
}

impl Fake {
    fn with_partners(n: i64) -> Fake {
        let mut f = Fake { next_id: 1000, ..Fake::default() };
        for id in 1..=n {
            f.records.insert(("res.partner".into(), id), Map::new());
        }
        f
    }
    fn tick(&mut self, what: String) -> Result<(), CallError> {
        let n = self.calls.len();
        self.calls.push(what);
        if self.drop_call == Some(n) {
            return Err(CallError::Transient("connection reset".into()));
        }
        Ok(())
    }
    fn tag_named(&self, name: &str) -> Vec<i64> {
        self.records
            .iter()
            .filter(|((m, _), v)| m == "res.partner.category" && v.get("name") == Some(&json!(name)))
            .map(|((_, id), _)| *id)
            .collect()
    }
}

/// `load`'s answer when row `record` fails: no ids, one message (the fake undoes the call).
fn refused(record: usize, field: &str, message: String) -> LoadAnswer {
    LoadAnswer {
        ids: None,
        messages: vec![LoadMessage {
            kind: "error".into(),
            field: Some(field.into()),
            message,
            record: Some(record as i64),
        }],
    }
}

impl Odoo for Fake {
    fn fields(&mut self, model: &str) -> Result<BTreeMap<String, FieldInfo>, CallError> {
        match model {
            "res.partner.category" => Ok(BTreeMap::from([
                ("name".into(), info("char", None)),
                ("color".into(), info("integer", None)),
                ("active".into(), info("boolean", None)),
                ("parent_id".into(), info("many2one", Some("res.partner.category"))),
            ])),
            "res.partner" => Ok(BTreeMap::from([
                ("category_id".into(), info("many2many", Some("res.partner.category"))),
                ("name".into(), info("char", None)),
            ])),
            _ => Err(CallError::Refused(format!("Object {model} doesn't exist"))),
        }
    }

    fn load(&mut self, model: &str, fields: &[String], rows: &[Vec<String>]) -> Result<LoadAnswer, CallError> {
        self.tick(format!("load {model} {}", rows.len()))?;
        let before = (self.records.clone(), self.xmlids.clone(), self.next_id);
        let mut ids = Vec::new();
        for (i, row) in rows.iter().enumerate() {
            let mut vals = Map::new();
            let mut xmlid = None;
            for (f, cell) in fields.iter().zip(row) {
                match f.as_str() {
                    "id" => xmlid = Some(cell.clone()),
                    "parent_id/id" if !cell.is_empty() => match self.xmlids.get(cell) {
                        Some(id) => {
                            vals.insert("parent_id".into(), json!(id));
                        }
                        None => {
                            (self.records, self.xmlids, self.next_id) = before;
                            return Ok(refused(
                                i,
                                "parent_id",
                                format!("No matching record found for external id '{cell}'"),
                            ));
                        }
                    },
                    other => {
                        vals.insert(other.trim_end_matches("/id").into(), json!(cell));
                    }
                }
            }
            let xmlid = xmlid.expect("an id column");
            let id = match self.xmlids.get(&xmlid) {
                Some(&id) => id,
                None => {
                    if vals.get("name").is_none_or(|n| n == "") {
                        (self.records, self.xmlids, self.next_id) = before;
                        return Ok(refused(i, "name", "Missing required value for the field 'Name' (name)".into()));
                    }
                    self.next_id += 1;
                    self.xmlids.insert(xmlid, self.next_id);
                    self.next_id
                }
            };
            self.records.entry((model.into(), id)).or_default().extend(vals);
            ids.push(id);
        }
        Ok(LoadAnswer { ids: Some(ids), messages: vec![] })
    }

    fn write(&mut self, model: &str, ids: &[i64], vals: &Map<String, Value>) -> Result<(), CallError> {
        self.tick(format!("write {model} {}", ids.len()))?;
        if let Some(gone) = ids.iter().find(|&&id| !self.records.contains_key(&(model.to_owned(), id))) {
            return Err(CallError::Refused(format!("Record does not exist or has been deleted. ({model}({gone},))")));
        }
        for &id in ids {
            for (f, v) in vals {
                if f == "category_id" {
                    for cmd in v.as_array().unwrap() {
                        let (op, tag) = (cmd[0].as_i64().unwrap(), cmd[1].as_i64().unwrap());
                        let set = self.tags.entry(id).or_default();
                        if op == 4 {
                            set.insert(tag);
                        } else {
                            set.remove(&tag);
                        }
                    }
                } else {
                    self.records.get_mut(&(model.to_owned(), id)).unwrap().insert(f.clone(), v.clone());
                }
            }
        }
        Ok(())
    }
}

fn allowed() -> AllowList {
    AllowList(
        [
            ("res.partner.category", "name"),
            ("res.partner.category", "color"),
            ("res.partner.category", "parent_id"),
            ("res.partner", "category_id"),
        ]
        .iter()
        .map(|(m, f)| (m.to_string(), f.to_string()))
        .collect(),
    )
}

fn row(id: i64, model: &str, target: Target, values: Value) -> Row {
    Row { id, model: model.into(), target, archive: false, values: values.as_object().unwrap().clone() }
}

fn tag_row(id: i64, key: &str, name: &str) -> Row {
    row(id, "res.partner.category", Target::Key(key.into()), json!({"name": name}))
}

fn add_row(id: i64, partner: i64, key: &str) -> Row {
    row(id, "res.partner", Target::Id(partner), json!({"category_id": {"add": [key]}}))
}

fn no_known(_: &str, _: &str) -> Option<i64> {
    None
}

#[test]
fn a_tag_and_its_members_are_one_load_and_one_write_and_sending_again_changes_nothing() {
    let mut odoo = Fake::with_partners(3000);
    let mut rows = vec![tag_row(1, "vip", "VIP")];
    rows.extend((1..=2500).map(|p| add_row(1 + p, p, "vip")));
    let out = send(&mut odoo, &rows, &allowed(), &mut no_known);
    let tag = odoo.tag_named("VIP");
    assert_eq!(tag.len(), 1);
    assert!(out.iter().all(|(_, o)| matches!(o, Outcome::Sent { .. })), "{:?}", &out[..3]);
    assert_eq!(out[0].1, Outcome::Sent { odoo_id: tag[0] });
    assert_eq!(out[1].1, Outcome::Sent { odoo_id: 1 }, "a partner row's id is the partner's");
    assert_eq!(
        odoo.calls,
        ["load res.partner.category 1", "write res.partner 1000", "write res.partner 1000", "write res.partner 500"]
    );
    assert_eq!(odoo.tags.values().filter(|t| t.contains(&tag[0])).count(), 2500);
    // The same batch again (a crash lost our commit): one tag, the same members.
    let again = send(&mut odoo, &rows, &allowed(), &mut no_known);
    assert_eq!(again, out);
    assert_eq!(odoo.tag_named("VIP"), tag);
    assert_eq!(odoo.tags.values().filter(|t| t.contains(&tag[0])).count(), 2500);
}

#[test]
fn rows_of_one_record_apply_in_order_and_other_tags_are_untouched() {
    let mut odoo = Fake::with_partners(2);
    odoo.tags.insert(1, BTreeSet::from([77]));
    let rows = vec![
        tag_row(1, "a", "A"),
        row(2, "res.partner.category", Target::Key("a".into()), json!({"name": "A2", "color": 4})),
        add_row(3, 1, "a"),
        row(4, "res.partner", Target::Id(1), json!({"category_id": {"remove": ["a"]}})),
        add_row(5, 1, "a"),
        row(6, "res.partner", Target::Id(2), json!({"category_id": {"add": ["a"]}})),
        row(7, "res.partner", Target::Id(2), json!({"category_id": {"remove": ["a"]}})),
    ];
    let out = send(&mut odoo, &rows, &allowed(), &mut no_known);
    assert!(out.iter().all(|(_, o)| matches!(o, Outcome::Sent { .. })), "{out:?}");
    let a = odoo.tag_named("A2");
    assert_eq!(a.len(), 1, "the later name won; one record");
    assert_eq!(odoo.records[&("res.partner.category".into(), a[0])]["color"], json!("4"));
    assert_eq!(odoo.tags[&1], BTreeSet::from([77, a[0]]), "add, remove, add: added; tag 77 untouched");
    assert!(odoo.tags[&2].is_empty(), "add then remove: removed");
}

#[test]
fn a_validation_error_fails_only_its_rows_and_a_missing_partner_only_its_own() {
    let mut odoo = Fake::with_partners(100);
    let mut rows = vec![tag_row(1, "good", "Good"), tag_row(2, "bad", ""), tag_row(3, "also", "Also")];
    rows.extend((1..=100).map(|p| add_row(3 + p, if p == 37 { 5000 } else { p }, "good")));
    rows.push(add_row(200, 1, "bad"));
    let out: BTreeMap<i64, Outcome> = send(&mut odoo, &rows, &allowed(), &mut no_known).into_iter().collect();
    assert!(matches!(&out[&2], Outcome::Failed(e) if e.contains("name: Missing required value")), "{:?}", out[&2]);
    assert!(matches!(out[&1], Outcome::Sent { .. }) && matches!(out[&3], Outcome::Sent { .. }));
    assert!(matches!(&out[&40], Outcome::Failed(e) if e.contains("res.partner(5000,)")), "{:?}", out[&40]);
    // Rows of one record in a batch are merged, so they succeed or fail together: partner 1's
    // row for the good tag (4) fails with its row for the tag that could not be created (200).
    assert!(matches!(&out[&200], Outcome::Failed(e) if e.contains("'bad' is not in Odoo yet")));
    assert_eq!(out[&4], out[&200]);
    assert_eq!(out.values().filter(|o| matches!(o, Outcome::Failed(_))).count(), 4);
    assert_eq!(odoo.tags.values().filter(|t| !t.is_empty()).count(), 98);
    assert!(odoo.calls.len() < 25, "the bad partner was found by halving: {} calls", odoo.calls.len());
}

#[test]
fn a_dropped_call_leaves_the_rest_pending_and_a_resend_converges() {
    let mut odoo = Fake::with_partners(10);
    let mut rows = vec![tag_row(1, "t", "T")];
    rows.extend((1..=10).map(|p| add_row(1 + p, p, "t")));
    odoo.drop_call = Some(1); // the write of the members
    let out = send(&mut odoo, &rows, &allowed(), &mut no_known);
    assert!(matches!(out[0].1, Outcome::Sent { .. }), "the tag's load went through");
    assert!(out[1..].iter().all(|(_, o)| matches!(o, Outcome::Pending(e) if e == "connection reset")), "{out:?}");
    odoo.drop_call = None;
    let tag = odoo.tag_named("T")[0];
    // The next push knows the tag from its sent row.
    let mut known = |m: &str, k: &str| (m == "res.partner.category" && k == "t").then_some(tag);
    let out = send(&mut odoo, &rows[1..], &allowed(), &mut known);
    assert!(out.iter().all(|(_, o)| matches!(o, Outcome::Sent { .. })));
    assert_eq!(odoo.tags.values().filter(|t| t.contains(&tag)).count(), 10);
    assert_eq!(odoo.tag_named("T").len(), 1);
}

#[test]
fn rows_outside_the_allow_list_or_for_unknown_models_fail_without_any_call() {
    let mut odoo = Fake::with_partners(1);
    let rows = vec![
        row(1, "res.users", Target::Id(2), json!({"login": "x"})),
        row(2, "res.partner", Target::Id(1), json!({"name": "Renamed"})),
        row(3, "res.partner.category", Target::Key("p".into()), json!({"name": "P", "parent_id": "missing"})),
    ];
    let out = send(&mut odoo, &rows, &allowed(), &mut no_known);
    assert!(matches!(&out[0].1, Outcome::Failed(e) if e.contains("res.users.login is not on scout.writeback_fields")));
    assert!(matches!(&out[1].1, Outcome::Failed(e) if e.contains("res.partner.name is not on scout.writeback_fields")));
    assert!(
        matches!(&out[2].1, Outcome::Failed(e) if e.contains("No matching record found for external id 'odoo_sync.res_partner_category__missing'")),
        "{:?}",
        out[2]
    );
    assert!(odoo.calls.iter().all(|c| !c.starts_with("write")), "{:?}", odoo.calls);
    assert!(odoo.records.get(&("res.partner".into(), 1)).unwrap().is_empty());
}

#[test]
fn a_row_with_nothing_to_write_for_a_model_nothing_may_be_written_to_fails() {
    let mut odoo = Fake::with_partners(1);
    let rows = vec![row(1, "res.users", Target::Id(2), json!({}))];
    let out = send(&mut odoo, &rows, &allowed(), &mut no_known);
    assert!(
        matches!(&out[0].1, Outcome::Failed(e) if e.contains("no field of res.users is on scout.writeback_fields")),
        "{:?}",
        out[0]
    );
    assert!(odoo.calls.is_empty(), "{:?}", odoo.calls);
}

/// An Odoo that cannot even describe its fields (unreachable, 503).
struct Down;

impl Odoo for Down {
    fn fields(&mut self, _model: &str) -> Result<BTreeMap<String, FieldInfo>, CallError> {
        Err(CallError::Transient("HTTP 503".into()))
    }
    fn load(&mut self, _: &str, _: &[String], _: &[Vec<String>]) -> Result<LoadAnswer, CallError> {
        unreachable!("nothing is loaded when the fields are unknown")
    }
    fn write(&mut self, _: &str, _: &[i64], _: &Map<String, Value>) -> Result<(), CallError> {
        unreachable!("nothing is written when the fields are unknown")
    }
}

#[test]
fn every_row_stays_pending_with_the_reason_when_odoo_cannot_describe_its_fields() {
    let rows = vec![
        row(1, "res.partner.category", Target::Key("a".into()), json!({"name": "A"})),
        row(2, "res.partner", Target::Id(7), json!({"category_id": {"add": ["a"]}})),
        row(3, "res.users", Target::Id(2), json!({"login": "x"})),
    ];
    let out = send(&mut Down, &rows, &allowed(), &mut no_known);
    let ids: Vec<i64> = out.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, vec![1, 2, 3], "every row gets an outcome: {out:?}");
    assert!(matches!(&out[0].1, Outcome::Pending(e) if e.contains("503")), "{out:?}");
    assert!(matches!(&out[1].1, Outcome::Pending(e) if e.contains("503")), "{out:?}");
    // The batch stopped before deciding the rest: the refused row is decided on the next try.
    assert!(!matches!(&out[2].1, Outcome::Sent { .. }), "{out:?}");
}
