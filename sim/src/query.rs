//! Reading: search with domains, ordering, offset/limit (with a fast path for scans in id
//! order), rendering of the result list, and fields_get.

use crate::domain::{id_bounds, mentions, Compiler, Eval, Node};
use crate::errors::{OResult, OdooError};
use crate::json::{py_repr, write_str, write_value};
use crate::render::{FieldCache, Renderer};
use crate::schema::{FType, ModelDef, Storage};
use crate::sim::Sim;
use crate::store::{Column, Store, Table, NO_DT, NO_SEL};
use serde_json::Value;
use std::cmp::Ordering;

fn active_test(ctx: &Value) -> bool {
    match ctx.get("active_test") {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().unwrap_or(1.0) != 0.0,
        Some(Value::Null) => false,
        _ => true,
    }
}

#[derive(Clone, Copy, Debug)]
struct OrderKey {
    field: usize,
    desc: bool,
    nulls_first: bool,
}

pub struct Query<'a> {
    pub sim: &'a Sim,
    pub store: &'a Store,
    pub model: usize,
}

impl<'a> Query<'a> {
    fn def(&self) -> &'a ModelDef {
        self.sim.schema.get(self.model)
    }

    /// Field indexes to render (without `id`), validating names as `read()` does.
    pub fn fields(&self, v: &Value) -> OResult<Vec<usize>> {
        let def = self.def();
        let all = || def.fields.iter().enumerate().filter(|(_, f)| f.storage != Storage::Id).map(|(i, _)| i).collect();
        match v {
            Value::Null | Value::Bool(false) => Ok(all()),
            Value::Array(a) if a.is_empty() => Ok(all()),
            Value::Array(a) => {
                let mut out = Vec::with_capacity(a.len());
                for x in a {
                    let name = x.as_str().ok_or_else(|| {
                        OdooError::value(format!("Invalid field {} on {}", py_repr(x), py_repr(&Value::from(def.name))))
                    })?;
                    let fi = def
                        .field(name)
                        .ok_or_else(|| OdooError::value(format!("Invalid field '{}' on '{}'", name, def.name)))?;
                    if def.fields[fi].storage != Storage::Id && !out.contains(&fi) {
                        out.push(fi);
                    }
                }
                Ok(out)
            }
            Value::String(s) => self.fields(&Value::Array(vec![Value::String(s.clone())])),
            other => Err(OdooError::value(format!("Invalid fields {}", py_repr(other)))),
        }
    }

    pub fn render(&self, out: &mut String, rows: &[usize], fields: &[usize], classic: bool) {
        let r = Renderer { schema: &self.sim.schema, store: self.store, model: self.model, classic };
        let t = &self.store.tables[self.model];
        out.reserve(rows.len() * (40 + fields.len() * 24));
        let mut cache = vec![FieldCache::new(); fields.len()];
        out.push('[');
        for (i, &row) in rows.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            r.record(out, t, row, fields, &mut cache);
        }
        out.push(']');
    }

    fn compile(&self, domain: &Value, ctx: &Value) -> OResult<Node> {
        let c = Compiler { schema: &self.sim.schema, store: self.store, v19: self.sim.v19() };
        let node = c.compile(self.model, domain)?;
        let def = self.def();
        // Archived records are hidden unless the domain names `active` or the context says so.
        if let Some(ai) = def.active_field {
            if active_test(ctx) && !mentions(domain, "active") {
                let active = c.compile(self.model, &serde_json::json!([[def.fields[ai].name, "=", true]]))?;
                return Ok(Node::And(vec![active, node]));
            }
        }
        Ok(node)
    }

    fn parse_order(&self, order: Option<&str>) -> OResult<Vec<OrderKey>> {
        let def = self.def();
        let spec = order.filter(|s| !s.trim().is_empty()).unwrap_or(def.default_order);
        let bad = || {
            OdooError::value(format!(
                "Invalid \"order\" specified ({}). A valid \"order\" specification is a comma-separated list of valid field names (optionally followed by asc/desc for the direction)",
                spec
            ))
        };
        let mut keys = Vec::new();
        for part in spec.split(',') {
            let words: Vec<&str> = part.split_whitespace().collect();
            let Some(&name) = words.first() else { return Err(bad()) };
            let fi = match def.field(name) {
                Some(fi) => fi,
                // Odoo's default orders may name fields we do not model (sequence): skip them.
                None if order.is_none() || order.is_some_and(|o| o.trim().is_empty()) => continue,
                None => return Err(OdooError::value(format!("Invalid field '{}' on model '{}'", name, def.name))),
            };
            let rest: Vec<String> = words[1..].iter().map(|w| w.to_ascii_lowercase()).collect();
            let (desc, nulls) = match rest.iter().map(|s| s.as_str()).collect::<Vec<_>>().as_slice() {
                [] | ["asc"] => (false, None),
                ["desc"] => (true, None),
                ["asc", "nulls", x] | ["nulls", x] => (false, Some(*x == "first")),
                ["desc", "nulls", x] => (true, Some(*x == "first")),
                _ => return Err(bad()),
            };
            keys.push(OrderKey { field: fi, desc, nulls_first: nulls.unwrap_or(desc) });
        }
        Ok(keys)
    }

    /// Row indexes matching the domain, ordered, after offset/limit.
    pub fn search(
        &self,
        domain: &Value,
        ctx: &Value,
        order: Option<&str>,
        offset: usize,
        limit: Option<usize>,
    ) -> OResult<Vec<usize>> {
        let node = self.compile(domain, ctx)?;
        let keys = self.parse_order(order)?;
        let t = &self.store.tables[self.model];
        let ev = Eval { schema: &self.sim.schema, store: self.store, v19: self.sim.v19(), model: self.model };
        let (lo, hi) = id_bounds(&node);
        let start = t.ids.partition_point(|&id| (id as i64) < lo);
        let end = t.ids.partition_point(|&id| (id as i64) < hi).max(start);
        let want = limit.map(|l| offset.saturating_add(l)).unwrap_or(usize::MAX);
        let first_is_id = keys.first().map(|k| self.def().fields[k.field].storage == Storage::Id);
        if first_is_id == Some(true) || keys.is_empty() {
            // Rows are in id order: scan from the bound and stop once the page is full.
            let desc = keys.first().is_some_and(|k| k.desc);
            let mut rows = Vec::with_capacity(limit.unwrap_or(64).min(4096));
            let mut skipped = 0;
            let mut visit = |r: usize| -> bool {
                if ev.node(t, &node, r) {
                    if skipped < offset {
                        skipped += 1;
                    } else {
                        rows.push(r);
                    }
                }
                rows.len() + offset < want || want == usize::MAX
            };
            if desc {
                for r in (start..end).rev() {
                    if !visit(r) {
                        break;
                    }
                }
            } else {
                for r in start..end {
                    if !visit(r) {
                        break;
                    }
                }
            }
            if let Some(l) = limit {
                rows.truncate(l);
            }
            return Ok(rows);
        }
        let mut rows: Vec<usize> = (start..end).filter(|&r| ev.node(t, &node, r)).collect();
        let cmp = |a: &usize, b: &usize| self.compare(t, &keys, *a, *b);
        if want < rows.len() {
            rows.select_nth_unstable_by(want, cmp);
            rows.truncate(want);
        }
        rows.sort_by(cmp);
        Ok(rows.into_iter().skip(offset).take(limit.unwrap_or(usize::MAX)).collect())
    }

    pub fn count(&self, domain: &Value, ctx: &Value, limit: Option<usize>) -> OResult<usize> {
        let node = self.compile(domain, ctx)?;
        let t = &self.store.tables[self.model];
        let ev = Eval { schema: &self.sim.schema, store: self.store, v19: self.sim.v19(), model: self.model };
        let (lo, hi) = id_bounds(&node);
        let start = t.ids.partition_point(|&id| (id as i64) < lo);
        let end = t.ids.partition_point(|&id| (id as i64) < hi).max(start);
        let mut n = 0;
        for r in start..end {
            if ev.node(t, &node, r) {
                n += 1;
                if limit == Some(n) {
                    break;
                }
            }
        }
        Ok(n)
    }

    /// PostgreSQL order semantics: NULLs last ascending, first descending; ties by id.
    fn compare(&self, t: &Table, keys: &[OrderKey], a: usize, b: usize) -> Ordering {
        let def = self.def();
        for k in keys {
            let f = &def.fields[k.field];
            let (na, nb, o) = match f.storage {
                Storage::Id => (false, false, t.ids[a].cmp(&t.ids[b])),
                Storage::DisplayName => {
                    let (x, y) = (
                        self.store.display_row(&self.sim.schema, self.model, a),
                        self.store.display_row(&self.sim.schema, self.model, b),
                    );
                    (false, false, x.cmp(&y))
                }
                Storage::Col(c) | Storage::Alias(c) => match &t.cols[c] {
                    Column::Int(v) => (false, false, v[a].cmp(&v[b])),
                    Column::Float(v) => (false, false, v[a].partial_cmp(&v[b]).unwrap_or(Ordering::Equal)),
                    Column::Bool(v) => (false, false, v[a].cmp(&v[b])),
                    Column::Str(v) => (v[a].is_none(), v[b].is_none(), v[a].cmp(&v[b])),
                    Column::Sel(v) => {
                        let key = |s: u8| f.selection.get(s as usize).map(|x| x.0);
                        (v[a] == NO_SEL, v[b] == NO_SEL, key(v[a]).cmp(&key(v[b])))
                    }
                    Column::M2o(v) => (v[a] == 0, v[b] == 0, v[a].cmp(&v[b])),
                    Column::Ids(v) => (v[a].is_empty(), v[b].is_empty(), v[a].first().cmp(&v[b].first())),
                    Column::Dt(v) => (v[a] == NO_DT, v[b] == NO_DT, v[a].cmp(&v[b])),
                },
            };
            let o = match (na, nb) {
                (true, true) => Ordering::Equal,
                (true, false) => {
                    if k.nulls_first {
                        Ordering::Less
                    } else {
                        Ordering::Greater
                    }
                }
                (false, true) => {
                    if k.nulls_first {
                        Ordering::Greater
                    } else {
                        Ordering::Less
                    }
                }
                _ => {
                    if k.desc {
                        o.reverse()
                    } else {
                        o
                    }
                }
            };
            if o != Ordering::Equal {
                return o;
            }
        }
        t.ids[a].cmp(&t.ids[b])
    }
}

/// `fields_get`: attribute keys in alphabetical order, as Odoo's description dict has them.
pub fn fields_get(def: &ModelDef, allfields: &Value, attributes: &Value, out: &mut String) -> OResult<()> {
    let wanted_fields: Option<Vec<&str>> = match allfields {
        Value::Array(a) if !a.is_empty() => Some(a.iter().filter_map(|v| v.as_str()).collect()),
        _ => None,
    };
    let attrs: Option<Vec<&str>> = match attributes {
        Value::Array(a) => Some(a.iter().filter_map(|v| v.as_str()).collect()),
        Value::String(s) => Some(vec![s.as_str()]),
        _ => None,
    };
    let want = |a: &str| attrs.as_ref().is_none_or(|l| l.contains(&a));
    out.push('{');
    let mut first = true;
    for f in &def.fields {
        if wanted_fields.as_ref().is_some_and(|w| !w.contains(&f.name)) {
            continue;
        }
        if !first {
            out.push_str(", ");
        }
        first = false;
        write_str(out, f.name);
        out.push_str(": {");
        let mut parts: Vec<(&str, Value)> = vec![
            ("name", Value::from(f.name)),
            ("readonly", Value::from(f.readonly)),
            ("required", Value::from(f.required)),
            ("searchable", Value::from(true)),
            ("sortable", Value::from(f.store && !f.ftype.is_x2many())),
            ("store", Value::from(f.store)),
            ("string", Value::from(f.string)),
            ("type", Value::from(f.ftype.as_str())),
        ];
        if let Some(rel) = f.relation {
            parts.push(("relation", Value::from(rel)));
        }
        if let Some(inv) = f.relation_field {
            parts.push(("relation_field", Value::from(inv)));
        }
        if f.ftype == FType::Selection {
            parts.push((
                "selection",
                Value::Array(f.selection.iter().map(|(k, l)| serde_json::json!([k, l])).collect()),
            ));
        }
        parts.sort_by(|a, b| a.0.cmp(b.0));
        let mut firsta = true;
        for (k, v) in parts.iter().filter(|(k, _)| want(k)) {
            if !firsta {
                out.push_str(", ");
            }
            firsta = false;
            write_str(out, k);
            out.push_str(": ");
            write_value(out, v);
        }
        out.push('}');
    }
    out.push('}');
    Ok(())
}
