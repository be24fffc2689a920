//! Realistic changes for the control interface: update, create or delete N records of a model
//! as ONE transaction (every touched record shares one write_date to the microsecond).
//! A plan is a list of writer ops; the caller applies it now or holds it in a long
//! transaction until commit.

use crate::catalog::CITIES;
use crate::clock::MICROS;
use crate::defaults::{restricting_reference, round2, uuid_from};
use crate::rng::Rng;
use crate::schema::{FType, Schema};
use crate::store::{Row, Store, Val};
use crate::writer::Op;
use std::collections::BTreeSet;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Action {
    Update,
    Create,
    Delete,
}

impl Action {
    pub fn parse(s: &str) -> Option<Action> {
        match s {
            "update" | "write" => Some(Action::Update),
            "create" => Some(Action::Create),
            "delete" | "unlink" => Some(Action::Delete),
            _ => None,
        }
    }
}

pub struct Plan {
    pub ids: Vec<u32>,
    pub ops: Vec<Op>,
}

/// Up to `count` distinct random rows among `candidates`, in row order.
fn sample(rng: &mut Rng, candidates: &[usize], count: usize) -> Vec<usize> {
    if count >= candidates.len() {
        return candidates.to_vec();
    }
    let mut picked = BTreeSet::new();
    while picked.len() < count {
        picked.insert(candidates[rng.below(candidates.len() as u64) as usize]);
    }
    picked.into_iter().collect()
}

fn stamp(schema: &Schema, model: usize, changes: &mut Vec<(usize, Val)>, ts: i64) {
    let def = schema.get(model);
    changes.push((def.col_of("write_date"), Val::Dt(ts)));
    changes.push((def.col_of("write_uid"), Val::M2o(2)));
}

fn sel(schema: &Schema, model: usize, field: &str, key: &str) -> Val {
    Val::Sel(schema.get(model).fdef(field).and_then(|f| f.sel_index(key)).unwrap_or(0))
}

fn sel_key<'a>(schema: &'a Schema, store: &Store, model: usize, field: &str, row: usize) -> &'a str {
    let def = schema.get(model);
    let Some(f) = def.fdef(field) else { return "" };
    let s = store.tables[model].sel_at(f.col().unwrap_or(0), row);
    f.selection.get(s as usize).map(|x| x.0).unwrap_or("")
}

pub fn plan(
    schema: &Schema,
    store: &mut Store,
    model: usize,
    action: Action,
    count: usize,
    rng: &mut Rng,
    ts: i64,
) -> Result<Plan, String> {
    let def = schema.get(model);
    let t = &store.tables[model];
    match action {
        Action::Update => {
            let all: Vec<usize> = (0..t.len()).collect();
            let rows = sample(rng, &all, count);
            let mut ops = Vec::with_capacity(rows.len());
            let mut ids = Vec::with_capacity(rows.len());
            for r in rows {
                let id = store.tables[model].ids[r];
                let mut ch = update_changes(schema, store, model, r, rng, ts);
                stamp(schema, model, &mut ch, ts);
                ids.push(id);
                ops.push(Op::Update { model, id, changes: ch });
            }
            Ok(Plan { ids, ops })
        }
        Action::Delete => {
            let candidates: Vec<usize> = match def.name {
                // Odoo refuses to delete a POS order unless it is new or cancelled.
                "pos.order" => (0..t.len())
                    .filter(|&r| matches!(sel_key(schema, store, model, "state", r), "draft" | "cancel"))
                    .collect(),
                _ => (0..t.len()).collect(),
            };
            let mut picked = Vec::new();
            let mut tries = 0;
            // Records still referenced elsewhere cannot be deleted (restrict): draw others.
            while picked.len() < count && tries < count * 20 + 50 && !candidates.is_empty() {
                tries += 1;
                let r = candidates[rng.below(candidates.len() as u64) as usize];
                let id = store.tables[model].ids[r];
                if picked.contains(&id) || restricting_reference(schema, store, model, id).is_some() {
                    continue;
                }
                picked.push(id);
            }
            picked.sort_unstable();
            let ops = picked.iter().map(|&id| Op::Delete { model, id }).collect();
            Ok(Plan { ids: picked, ops })
        }
        Action::Create => {
            let mut ids = Vec::new();
            let mut ops = Vec::new();
            for _ in 0..count {
                let id = create_one(schema, store, model, rng, ts, &mut ops)?;
                ids.push(id);
            }
            Ok(Plan { ids, ops })
        }
    }
}

fn update_changes(schema: &Schema, store: &Store, model: usize, r: usize, rng: &mut Rng, ts: i64) -> Vec<(usize, Val)> {
    let def = schema.get(model);
    let t = &store.tables[model];
    let mut ch = Vec::new();
    match def.name {
        "pos.order" if sel_key(schema, store, model, "state", r) == "paid" => {
            ch.push((def.col_of("state"), sel(schema, model, "state", "done")));
        }
        "pos.session" => match sel_key(schema, store, model, "state", r) {
            "opening_control" => ch.push((def.col_of("state"), sel(schema, model, "state", "opened"))),
            "opened" => ch.push((def.col_of("state"), sel(schema, model, "state", "closing_control"))),
            "closing_control" => {
                ch.push((def.col_of("state"), sel(schema, model, "state", "closed")));
                ch.push((def.col_of("stop_at"), Val::Dt(ts - ts.rem_euclid(MICROS))));
            }
            _ => {}
        },
        "product.product" => {
            let c = def.col_of("list_price");
            let old = t.f64_at(c, r);
            // A non-zero change between -10 % and +10 %.
            let step = rng.range(-10, 9);
            let pct = (if step >= 0 { step + 1 } else { step }) as f64 / 100.0;
            ch.push((c, Val::Float(round2(old * (1.0 + pct)).max(0.25))));
        }
        "res.partner" => {
            let city = rng.pick(CITIES);
            ch.push((def.col_of("city"), Val::str(city.0)));
            ch.push((def.col_of("zip"), Val::str(city.2)));
            let states = &store.tables[schema.idx("res.country.state")];
            let sdef = schema.get(schema.idx("res.country.state"));
            let sname = sdef.col_of("name");
            if let Some(sr) = (0..states.len()).find(|&x| states.str_at(sname, x) == Some(city.1)) {
                ch.push((def.col_of("state_id"), Val::M2o(states.ids[sr])));
            }
            if let Some(f) = def.fdef("x_region_code") {
                if let (Some(c), Some(i)) = (f.col(), f.sel_index(city.3)) {
                    ch.push((c, Val::Sel(i)));
                }
            }
        }
        _ => {}
    }
    ch
}

fn blank(schema: &Schema, model: usize) -> Row {
    let def = schema.get(model);
    let mut row = vec![Val::False; def.ncols];
    for f in &def.fields {
        if let Some(c) = f.col() {
            row[c] = match f.ftype {
                FType::Boolean => Val::Bool(f.name == "active"),
                FType::Integer => Val::Int(0),
                FType::Float | FType::Monetary => Val::Float(0.0),
                FType::One2many | FType::Many2many => Val::ids(Vec::new()),
                _ => Val::False,
            };
        }
    }
    row
}

fn finish(schema: &Schema, model: usize, row: &mut Row, ts: i64) {
    let def = schema.get(model);
    row[def.col_of("create_date")] = Val::Dt(ts);
    row[def.col_of("write_date")] = Val::Dt(ts);
    row[def.col_of("create_uid")] = Val::M2o(2);
    row[def.col_of("write_uid")] = Val::M2o(2);
}

fn random_id(rng: &mut Rng, store: &Store, model: usize) -> Option<u32> {
    let t = &store.tables[model];
    (!t.is_empty()).then(|| t.ids[rng.below(t.len() as u64) as usize])
}

fn create_one(
    schema: &Schema,
    store: &mut Store,
    model: usize,
    rng: &mut Rng,
    ts: i64,
    ops: &mut Vec<Op>,
) -> Result<u32, String> {
    let def = schema.get(model);
    let mut row = blank(schema, model);
    let col = |n: &str| def.col_of(n);
    let id = store.tables[model].alloc_id();
    match def.name {
        "pos.order" => return create_order(schema, store, model, id, rng, ts, ops),
        "product.product" => {
            let cat = random_id(rng, store, schema.idx("product.category")).unwrap_or(1);
            let price = rng.range(2000, 50000);
            row[col("name")] = Val::str(&format!("New Product {id}"));
            row[col("default_code")] = Val::str(&format!("NEW{id:05}"));
            row[col("categ_id")] = Val::M2o(cat);
            row[col("list_price")] = Val::Float(price as f64 / 100.0);
            row[col("standard_price")] = Val::Float(round2(price as f64 * 0.7 / 100.0));
            row[col("type")] = sel(schema, model, "type", "consu");
            if let Some(c) = def.fdef("detailed_type").and_then(|f| f.col()) {
                row[c] = sel(schema, model, "detailed_type", "consu"); // Odoo 16, 17
            }
            row[col("taxes_id")] = Val::ids(vec![1, 3]);
            row[col("product_tmpl_id")] = Val::M2o(id);
        }
        "res.partner" => {
            let city = rng.pick(CITIES);
            let name = format!("{} {}", rng.pick(crate::catalog::FIRST_NAMES), rng.pick(crate::catalog::LAST_NAMES));
            row[col("name")] = Val::str(&name);
            row[col("complete_name")] = Val::str(&name);
            row[col("type")] = sel(schema, model, "type", "contact");
            row[col("city")] = Val::str(city.0);
            row[col("zip")] = Val::str(city.2);
            row[col("country_id")] = Val::M2o(1);
            if let Some(f) = def.fdef("x_region_code") {
                if let (Some(c), Some(i)) = (f.col(), f.sel_index(city.3)) {
                    row[c] = Val::Sel(i);
                }
            }
        }
        "product.category" => {
            let name = format!("New Category {id}");
            row[col("name")] = Val::str(&name);
            row[col("complete_name")] = Val::str(&format!("All / {name}"));
            row[col("parent_id")] = Val::M2o(1);
        }
        "product.brand" => row[col("name")] = Val::str(&format!("New Brand {id}")),
        other => return Err(format!("create is not supported for {other}")),
    }
    finish(schema, model, &mut row, ts);
    ops.push(Op::Insert { model, id, row });
    Ok(id)
}

/// A new paid order in the latest session of a random store, with its lines and payments.
fn create_order(
    schema: &Schema,
    store: &mut Store,
    model: usize,
    id: u32,
    rng: &mut Rng,
    ts: i64,
    ops: &mut Vec<Op>,
) -> Result<u32, String> {
    let si = schema.idx("pos.session");
    let sdef = schema.get(si);
    let st = &store.tables[si];
    if st.is_empty() {
        return Err("no POS session to add orders to".into());
    }
    // Latest session of a random store.
    let configs = &store.tables[schema.idx("pos.config")];
    let config = configs.ids[rng.below(configs.len() as u64) as usize];
    let scfg = sdef.col_of("config_id");
    let srow = (0..st.len()).rev().find(|&r| st.m2o_at(scfg, r) == config).unwrap_or(st.len() - 1);
    let session = st.ids[srow];
    let config = st.m2o_at(scfg, srow);
    let company = st.m2o_at(sdef.col_of("company_id"), srow);
    let user = st.m2o_at(sdef.col_of("user_id"), srow);
    let pi = schema.idx("product.product");
    let pdef = schema.get(pi);
    let (li, pyi) = (schema.idx("pos.order.line"), schema.idx("pos.payment"));
    let when = ts - ts.rem_euclid(MICROS) - rng.range(5, 120) * MICROS;
    let mut total = 0i64;
    let mut excl = 0i64;
    let mut line_ids = Vec::new();
    for _ in 0..rng.range(1, 8) {
        let pt = &store.tables[pi];
        let pr = rng.below(pt.len() as u64) as usize;
        let pid = pt.ids[pr];
        let price = (pt.f64_at(pdef.col_of("list_price"), pr) * 100.0).round() as i64;
        let exempt = pt.ids_at(pdef.col_of("taxes_id"), pr).contains(&2);
        let name = pt.str_at(pdef.col_of("name"), pr).unwrap_or("").to_string();
        let qty = rng.range(1, 3);
        let sub = qty * price;
        let incl = if exempt { sub } else { (sub * 112 + 50) / 100 };
        total += incl;
        excl += sub;
        let lid = store.tables[li].alloc_id();
        let ldef = schema.get(li);
        let mut r = blank(schema, li);
        r[ldef.col_of("order_id")] = Val::M2o(id);
        r[ldef.col_of("product_id")] = Val::M2o(pid);
        r[ldef.col_of("full_product_name")] = Val::str(&name);
        r[ldef.col_of("qty")] = Val::Float(qty as f64);
        r[ldef.col_of("price_unit")] = Val::Float(price as f64 / 100.0);
        r[ldef.col_of("price_subtotal")] = Val::Float(sub as f64 / 100.0);
        r[ldef.col_of("price_subtotal_incl")] = Val::Float(incl as f64 / 100.0);
        r[ldef.col_of("tax_ids")] = Val::ids(if exempt { vec![] } else { vec![if company == 2 { 3 } else { 1 }] });
        r[ldef.col_of("company_id")] = Val::M2o(company);
        finish(schema, li, &mut r, ts);
        ops.push(Op::Insert { model: li, id: lid, row: r });
        line_ids.push(lid);
    }
    let pyid = store.tables[pyi].alloc_id();
    let pydef = schema.get(pyi);
    let mut r = blank(schema, pyi);
    let methods = &store.tables[schema.idx("pos.payment.method")];
    r[pydef.col_of("pos_order_id")] = Val::M2o(id);
    r[pydef.col_of("payment_method_id")] = Val::M2o(methods.ids.get(config as usize - 1).copied().unwrap_or(1));
    r[pydef.col_of("amount")] = Val::Float(total as f64 / 100.0);
    r[pydef.col_of("payment_date")] = Val::Dt(when);
    r[pydef.col_of("session_id")] = Val::M2o(session);
    r[pydef.col_of("company_id")] = Val::M2o(company);
    finish(schema, pyi, &mut r, ts);
    ops.push(Op::Insert { model: pyi, id: pyid, row: r });

    let def = schema.get(model);
    let ot = &store.tables[model];
    let ocfg = def.col_of("config_id");
    let seq = (0..ot.len()).filter(|&x| ot.m2o_at(ocfg, x) == config).count() + 1;
    let cname = store.display_name(schema, schema.idx("pos.config"), config).unwrap_or_default();
    let mut o = blank(schema, model);
    let col = |n: &str| def.col_of(n);
    o[col("name")] = Val::str(&format!("{cname} - {seq:06}"));
    o[col("pos_reference")] = Val::str(&format!("{session}-{config}-{:06}", seq));
    o[col("date_order")] = Val::Dt(when);
    o[col("session_id")] = Val::M2o(session);
    o[col("config_id")] = Val::M2o(config);
    o[col("company_id")] = Val::M2o(company);
    o[col("currency_id")] = Val::M2o(1);
    o[col("user_id")] = Val::M2o(user);
    o[col("amount_total")] = Val::Float(total as f64 / 100.0);
    o[col("amount_tax")] = Val::Float((total - excl) as f64 / 100.0);
    o[col("amount_paid")] = Val::Float(total as f64 / 100.0);
    o[col("state")] = sel(schema, model, "state", "paid");
    if let Some(cu) = def.fdef("uuid").and_then(|f| f.col()) {
        o[cu] = Val::str(&uuid_from(id as u64, ts as u64)); // Odoo 18 and later
    }
    finish(schema, model, &mut o, ts);
    // The order goes first so that its children's inverse lists attach to it.
    let at = ops.len() - line_ids.len() - 1;
    ops.insert(at, Op::Insert { model, id, row: o });
    Ok(id)
}
