//! What Odoo fills in by itself when a record is created through the API (sequences, related
//! and computed fields), and what a deletion does to records that point at the deleted one.

use crate::schema::{FType, Schema};
use crate::store::{Row, Store, Val};
use std::sync::Arc;

fn get_str(row: &Row, c: usize) -> Option<Arc<str>> {
    match &row[c] {
        Val::Str(s) => Some(s.clone()),
        _ => None,
    }
}

/// A deterministic UUID-shaped string (version 4 layout) from two numbers.
pub fn uuid_from(a: u64, b: u64) -> String {
    let mut r = crate::rng::Rng::new(a ^ b.rotate_left(32));
    let (x, y) = (r.next_u64(), r.next_u64());
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        x >> 32,
        (x >> 16) & 0xffff,
        x & 0xfff,
        ((y >> 48) & 0x3fff) | 0x8000,
        y & 0xffff_ffff_ffff
    )
}

/// Round half away from zero to cents, as Odoo's float_round does for currencies.
pub fn round2(x: f64) -> f64 {
    let c = (x * 100.0).abs() + 1e-9;
    c.round().copysign(x) / 100.0
}

/// The row of record `rid` of model `rel`: (model index, row), if both exist.
fn find_row(schema: &Schema, store: &Store, rel: &str, rid: u32) -> Option<(usize, usize)> {
    let mi = schema.model(rel)?;
    store.tables[mi].row_of(rid).map(|r| (mi, r))
}

/// Fills in what Odoo computes or defaults by itself in `row`, the values of record `id` of
/// `model` being created through the API at `now` by user `uid`.
pub fn fill(schema: &Schema, store: &Store, model: usize, id: u32, row: &mut Row, now: i64, uid: u32) {
    let def = schema.get(model);
    let col = |n: &str| def.col_of(n);
    let m2o_row = |rel: &str, rid: u32| find_row(schema, store, rel, rid);
    match def.name {
        "pos.order" => fill_pos_order(schema, store, model, id, row, now, uid),
        "pos.order.line" => fill_order_line(schema, store, model, row),
        "pos.payment" => {
            if let Some((oi, or)) = m2o_row("pos.order", row[col("pos_order_id")].as_id()) {
                let odef = schema.get(oi);
                let ot = &store.tables[oi];
                row[col("session_id")] = Val::M2o(ot.m2o_at(odef.col_of("session_id"), or));
                row[col("company_id")] = Val::M2o(ot.m2o_at(odef.col_of("company_id"), or));
            }
            if row[col("payment_date")] == Val::False {
                row[col("payment_date")] = Val::Dt(now);
            }
        }
        "product.product" => {
            row[col("product_tmpl_id")] = Val::M2o(id);
            if row[col("categ_id")] == Val::False {
                row[col("categ_id")] = Val::M2o(1);
            }
        }
        "product.category" => {
            let name = get_str(row, col("name")).map(|s| s.to_string()).unwrap_or_default();
            let parent = row[col("parent_id")].as_id();
            let full = match store.display_name(schema, model, parent).filter(|_| parent != 0) {
                Some(p) => format!("{} / {}", p, name),
                None => name,
            };
            row[col("complete_name")] = Val::str(&full);
        }
        "res.partner" => {
            let name = get_str(row, col("name")).map(|s| s.to_string()).unwrap_or_default();
            let parent = row[col("parent_id")].as_id();
            let full = match store.display_name(schema, model, parent).filter(|_| parent != 0 && !name.is_empty()) {
                Some(p) => format!("{}, {}", p, name),
                None => name,
            };
            row[col("complete_name")] = Val::str(&full);
        }
        "pos.session" => {
            let config = row[col("config_id")].as_id();
            if row[col("name")] == Val::False {
                let ci = schema.idx("pos.config");
                let cname = store.display_name(schema, ci, config).unwrap_or_else(|| "POS".into());
                row[col("name")] = Val::str(&format!("{}/{:05}", cname, id));
            }
            if row[col("user_id")] == Val::False {
                row[col("user_id")] = Val::M2o(uid);
            }
            if row[col("company_id")] == Val::False {
                row[col("company_id")] = Val::M2o(1);
            }
            if row[col("start_at")] == Val::False {
                row[col("start_at")] = Val::Dt(now);
            }
        }
        // base_automation's _compute_name: an automation's action without a name gets one.
        "ir.actions.server" if row[col("name")] == Val::False && row[col("base_automation_id")] != Val::False => {
            let f = def.fdef("state").expect("state");
            if let Val::Sel(i) = row[col("state")] {
                if let Some((_, label)) = f.selection.get(i as usize) {
                    row[col("name")] = Val::str(label);
                }
            }
        }
        "pos.config" | "res.users" | "account.tax" => {
            if row[col("company_id")] == Val::False {
                row[col("company_id")] = Val::M2o(1);
            }
            if def.field("currency_id").is_some() && row[col("currency_id")] == Val::False {
                row[col("currency_id")] = Val::M2o(1);
            }
        }
        _ => {}
    }
}

/// A POS order: its POS, company and name from its session (Odoo's
/// `_complete_values_from_session`), then the defaults of the other fields.
fn fill_pos_order(schema: &Schema, store: &Store, model: usize, id: u32, row: &mut Row, now: i64, uid: u32) {
    let def = schema.get(model);
    let col = |n: &str| def.col_of(n);
    let m2o_row = |rel: &str, rid: u32| find_row(schema, store, rel, rid);
    if let Some((si, sr)) = m2o_row("pos.session", row[col("session_id")].as_id()) {
        let st = &store.tables[si];
        let sdef = schema.get(si);
        let config = st.m2o_at(sdef.col_of("config_id"), sr);
        if row[col("config_id")] == Val::False {
            row[col("config_id")] = Val::M2o(config);
        }
        // As Odoo's _complete_values_from_session: the order belongs to its POS's company.
        if row[col("company_id")] == Val::False {
            row[col("company_id")] = Val::M2o(st.m2o_at(sdef.col_of("company_id"), sr));
        }
        if row[col("name")] == Val::False {
            let ci = schema.idx("pos.config");
            let cname = store.display_name(schema, ci, config).unwrap_or_default();
            let ot = &store.tables[model];
            let cc = col("config_id");
            let seq = (0..ot.len()).filter(|&r| ot.m2o_at(cc, r) == config).count() + 1;
            row[col("name")] = Val::str(&format!("{} - {:06}", cname, seq));
        }
    }
    if row[col("company_id")] == Val::False {
        row[col("company_id")] = Val::M2o(1);
    }
    if row[col("currency_id")] == Val::False {
        row[col("currency_id")] = Val::M2o(1);
    }
    if row[col("user_id")] == Val::False {
        row[col("user_id")] = Val::M2o(uid);
    }
    if row[col("date_order")] == Val::False {
        row[col("date_order")] = Val::Dt(now);
    }
    if row[col("pos_reference")] == Val::False {
        row[col("pos_reference")] = Val::str(&format!("Order {:05}-001-{:04}", id / 10000, id % 10000));
    }
    if let Some(cu) = def.fdef("uuid").and_then(|f| f.col()) {
        if row[cu] == Val::False {
            row[cu] = Val::str(&uuid_from(id as u64, now as u64));
        }
    }
}

/// An order line: its company from its order, its name and taxes from its product, and its
/// subtotals when none were given.
fn fill_order_line(schema: &Schema, store: &Store, model: usize, row: &mut Row) {
    let def = schema.get(model);
    let col = |n: &str| def.col_of(n);
    let m2o_row = |rel: &str, rid: u32| find_row(schema, store, rel, rid);
    let order = m2o_row("pos.order", row[col("order_id")].as_id());
    if let Some((oi, or)) = order {
        let company = store.tables[oi].m2o_at(schema.get(oi).col_of("company_id"), or);
        row[col("company_id")] = Val::M2o(company);
    }
    if let Some((pi, pr)) = m2o_row("product.product", row[col("product_id")].as_id()) {
        let pdef = schema.get(pi);
        let pt = &store.tables[pi];
        if row[col("full_product_name")] == Val::False {
            if let Some(n) = pt.str_at(pdef.col_of("name"), pr) {
                row[col("full_product_name")] = Val::str(n);
            }
        }
        if matches!(&row[col("tax_ids")], Val::Ids(v) if v.is_empty()) {
            // The product's sales taxes that belong to the order's company.
            let company = row[col("company_id")].as_id();
            let ti = schema.idx("account.tax");
            let tt = &store.tables[ti];
            let tc = schema.get(ti).col_of("company_id");
            let taxes: Vec<u32> = pt
                .ids_at(pdef.col_of("taxes_id"), pr)
                .iter()
                .copied()
                .filter(|&t| tt.row_of(t).is_some_and(|r| tt.m2o_at(tc, r) == company))
                .collect();
            row[col("tax_ids")] = Val::ids(taxes);
        }
    }
    let (qty, price, disc) = (row[col("qty")].as_f64(), row[col("price_unit")].as_f64(), row[col("discount")].as_f64());
    if row[col("price_subtotal")].as_f64() == 0.0 && row[col("price_subtotal_incl")].as_f64() == 0.0 {
        let ti = schema.idx("account.tax");
        let tt = &store.tables[ti];
        let rate: f64 = match &row[col("tax_ids")] {
            Val::Ids(v) => {
                v.iter().filter_map(|t| tt.row_of(*t)).map(|r| tt.f64_at(schema.get(ti).col_of("amount"), r)).sum()
            }
            _ => 0.0,
        };
        let sub = round2(qty * price * (1.0 - disc / 100.0));
        row[col("price_subtotal")] = Val::Float(sub);
        row[col("price_subtotal_incl")] = Val::Float(round2(sub * (1.0 + rate / 100.0)));
    }
}

/// Many2one fields whose target may be deleted: PostgreSQL sets them to NULL (without touching
/// write_date). Any other reference blocks the deletion (ondelete='restrict' in effect).
fn set_null(child: &str, field: &str) -> bool {
    matches!(
        (child, field),
        ("pos.order", "partner_id")
            | (_, "parent_id")
            | (_, "create_uid")
            | (_, "write_uid")
            | ("product.product", "product_brand_id")
    )
}

fn references(schema: &Schema, model: usize) -> Vec<(usize, usize, &'static str, bool)> {
    let mut out = Vec::new();
    for (ci, cdef) in schema.models.iter().enumerate() {
        for f in &cdef.fields {
            if f.ftype != FType::Many2one || f.rel_model != Some(model) {
                continue;
            }
            let Some(c) = f.col() else { continue };
            // Children that the deletion cascades to (one2many inverses) are not blockers.
            let cascades = schema.inverses[ci].iter().any(|inv| inv.child_col == c && inv.parent_model == model);
            if cascades {
                continue;
            }
            out.push((ci, c, f.name, set_null(cdef.name, f.name)));
        }
    }
    out
}

pub fn restricting_reference(schema: &Schema, store: &Store, model: usize, id: u32) -> Option<(usize, &'static str)> {
    for (ci, c, name, null) in references(schema, model) {
        if null {
            continue;
        }
        let t = &store.tables[ci];
        if (0..t.len()).any(|r| t.m2o_at(c, r) == id) {
            return Some((ci, name));
        }
    }
    None
}

pub fn set_null_references(schema: &Schema, store: &mut Store, model: usize, id: u32) {
    for (ci, c, _, null) in references(schema, model) {
        if !null {
            continue;
        }
        let t = &mut store.tables[ci];
        for r in 0..t.len() {
            if t.m2o_at(c, r) == id {
                t.set(r, c, Val::False);
            }
        }
    }
}
