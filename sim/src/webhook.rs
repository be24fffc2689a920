//! Odoo's outgoing webhooks (module `base_automation`, Odoo 17.0+): an automation rule
//! (`base.automation`) on a model runs its server actions (`ir.actions.server`) of type
//! `webhook` for each record created, written or deleted, and each such action POSTs
//! `json.dumps({"_action": "<name>(#<id>)", "_id": id, "_model": model, **record.read(fields,
//! load=None)[0]}, sort_keys=True, default=str)` with only `Content-Type: application/json`,
//! a 1 s timeout and no retry; a failure is only logged (here: counted).
//!
//! When it is sent (from Odoo's source): 17.0 and 18.0 call `requests.post` inside the action,
//! i.e. inside the transaction, BEFORE the commit (the receiver cannot see the change yet, and a
//! rollback leaves a "phantom" event); 19.0 sends from a post-commit hook (after the change is
//! visible; nothing on rollback). The simulator reproduces both: on 16, 17 and 18 the events of a
//! write are computed on the written data, then the old data is put back while they are sent,
//! then the write is made visible; on 19 the write is applied, then the events are sent.
//!
//! Triggers honoured: `on_create_or_write`, `on_create`, `on_write`, `on_unlink`, `on_archive`,
//! `on_unarchive`; `trigger_field_ids` (a write fires only when one of those fields changed
//! value). Ignored: `filter_domain`, `filter_pre_domain` (stored, not evaluated), and every
//! other trigger (`on_change`, `on_time`, ...), which never fires here.
//!
//! Besides rules stored as records, a benchmark rule (`--webhook-url`, `POST /sim/webhooks`)
//! sends `{"_action": "odoo_sync bench(#0)", "_id", "_model", "id", "write_date"}` on
//! create/write/delete of the chosen models (default: every model except `ir.*` and
//! `base.automation`), with the same version semantics (16 behaves like 17).

use crate::clock::fmt_dt;
use crate::hooks::Event;
use crate::json::{write_float, write_int};
use crate::schema::{Display, FType, Schema, Storage};
use crate::sim::Sim;
use crate::store::{Row, Store, Table, Val};
use crate::writer::{Op, Writer};
use serde_json::Value;
use std::sync::RwLockWriteGuard;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Create,
    Write,
    Unlink,
}

/// One record created, written or deleted by a transaction.
#[derive(Clone, Debug)]
pub struct Touch {
    pub model: usize,
    pub id: u32,
    pub kind: Kind,
    /// Write: the columns whose value changed.
    pub cols: Vec<usize>,
    /// Unlink: the record as it was (Odoo reads it before deleting it).
    pub before: Option<Row>,
}

impl Touch {
    pub fn create(model: usize, id: u32) -> Touch {
        Touch { model, id, kind: Kind::Create, cols: Vec::new(), before: None }
    }
    pub fn unlink(model: usize, id: u32, before: Row) -> Touch {
        Touch { model, id, kind: Kind::Unlink, cols: Vec::new(), before: Some(before) }
    }
    /// A write of `changes` on the record as it is now in `store` (None: it does not exist).
    pub fn write(store: &Store, model: usize, id: u32, changes: &[(usize, Val)]) -> Option<Touch> {
        let t = &store.tables[model];
        let r = t.row_of(id)?;
        let mut cols: Vec<usize> = changes.iter().filter(|(c, v)| t.get(r, *c) != *v).map(|(c, _)| *c).collect();
        cols.sort_unstable();
        cols.dedup();
        Some(Touch { model, id, kind: Kind::Write, cols, before: None })
    }
}

/// The touches of writer ops, seen before they are applied.
pub fn touches_of_ops(store: &Store, ops: &[Op]) -> Vec<Touch> {
    let mut out = Vec::with_capacity(ops.len());
    for op in ops {
        match op {
            Op::Insert { model, id, .. } => out.push(Touch::create(*model, *id)),
            Op::Update { model, id, changes } => out.extend(Touch::write(store, *model, *id, changes)),
            Op::Delete { model, id } => {
                let t = &store.tables[*model];
                if let Some(r) = t.row_of(*id) {
                    out.push(Touch::unlink(*model, *id, t.row_vals(r)));
                }
            }
        }
    }
    out
}

/// The models whose tables ops may change.
pub fn models_of_ops(schema: &Schema, ops: &[Op]) -> Vec<usize> {
    let mut out: Vec<usize> = Vec::new();
    let mut seen: Vec<(usize, bool)> = Vec::new();
    for op in ops {
        let (m, delete) = match op {
            Op::Insert { model, .. } | Op::Update { model, .. } => (*model, false),
            Op::Delete { model, .. } => (*model, true),
        };
        if seen.contains(&(m, delete)) {
            continue;
        }
        seen.push((m, delete));
        // A delete cascades to one2many children; inserts and updates only change the model
        // and the one2many lists of its parents.
        let set = if delete {
            touched_models(schema, m, false)
        } else {
            std::iter::once(m).chain(schema.inverses[m].iter().map(|i| i.parent_model)).collect()
        };
        for x in set {
            if !out.contains(&x) {
                out.push(x);
            }
        }
    }
    out
}

/// Every model whose table a create/write/unlink on `model` may change: its one2many children
/// (recursively), the parents whose one2many lists follow the children, and for an unlink the
/// models whose references are set to NULL.
pub fn touched_models(schema: &Schema, model: usize, unlink: bool) -> Vec<usize> {
    let mut set = vec![model];
    let mut i = 0;
    while i < set.len() {
        let m = set[i];
        for f in &schema.get(m).fields {
            if let (FType::One2many, Some(c)) = (f.ftype, f.rel_model) {
                if !set.contains(&c) {
                    set.push(c);
                }
            }
        }
        for inv in &schema.inverses[m] {
            if !set.contains(&inv.parent_model) {
                set.push(inv.parent_model);
            }
        }
        i += 1;
    }
    if unlink {
        for (ci, cdef) in schema.models.iter().enumerate() {
            let points =
                cdef.fields.iter().any(|f| f.ftype == FType::Many2one && f.rel_model.is_some_and(|r| set.contains(&r)));
            if points && !set.contains(&ci) {
                set.push(ci);
            }
        }
    }
    set
}

/// One webhook server action.
#[derive(Clone, Debug)]
struct Act {
    /// `"<name>(#<id>)"`
    tag: String,
    url: String,
    fields: Vec<String>,
}

/// An active rule: which models and operations fire it, and its webhook actions.
#[derive(Clone, Debug)]
struct Rule {
    /// None: every model except ir.* and base.automation (the benchmark rule's default).
    models: Option<Vec<usize>>,
    on_create: bool,
    on_write: bool,
    on_unlink: bool,
    /// on_archive (Some(false)) / on_unarchive (Some(true)): a write setting `active` so.
    archive: Option<bool>,
    trigger_fields: Vec<String>,
    actions: Vec<Act>,
}

impl Rule {
    fn covers(&self, schema: &Schema, model: usize) -> bool {
        match &self.models {
            Some(ms) => ms.contains(&model),
            None => {
                let n = schema.get(model).name;
                !n.starts_with("ir.") && n != "base.automation"
            }
        }
    }

    fn fires(&self, schema: &Schema, store: &Store, t: &Touch) -> bool {
        if !self.covers(schema, t.model) {
            return false;
        }
        let def = schema.get(t.model);
        let changed = |name: &str| def.fdef(name).and_then(|f| f.col()).is_some_and(|c| t.cols.contains(&c));
        match t.kind {
            Kind::Create => self.on_create,
            Kind::Unlink => self.on_unlink,
            Kind::Write => {
                if let Some(want) = self.archive {
                    let Some(f) = def.fdef("active").and_then(|f| f.col()) else { return false };
                    let tab = &store.tables[t.model];
                    let now = tab.row_of(t.id).is_some_and(|r| tab.bool_at(f, r));
                    return t.cols.contains(&f) && now == want;
                }
                self.on_write && (self.trigger_fields.is_empty() || self.trigger_fields.iter().any(|n| changed(n)))
            }
        }
    }
}

/// `GET /sim/webhooks`: the delivery counters and how many active rules have a webhook action.
pub fn stats(sim: &Sim) -> Value {
    let rules = {
        let store = sim.store.read().unwrap_or_else(|e| e.into_inner());
        rules(sim, &store).len()
    };
    sim.webhooks.stats(rules)
}

fn str_at(t: &Table, c: usize, r: usize) -> Option<String> {
    t.str_at(c, r).map(|s| s.to_string())
}

/// The active rules that have at least one webhook action.
fn rules(sim: &Sim, store: &Store) -> Vec<Rule> {
    let schema = &sim.schema;
    let mut out = Vec::new();
    if let Some(b) = sim.webhooks.bench.lock().unwrap_or_else(|e| e.into_inner()).clone() {
        out.push(Rule {
            models: b.models,
            on_create: true,
            on_write: true,
            on_unlink: true,
            archive: None,
            trigger_fields: Vec::new(),
            actions: vec![Act {
                tag: "odoo_sync bench(#0)".into(),
                url: b.url,
                fields: vec!["id".into(), "write_date".into()],
            }],
        });
    }
    let (Some(bi), Some(ai), Some(fi), Some(mi)) = (
        schema.model("base.automation"),
        schema.model("ir.actions.server"),
        schema.model("ir.model.fields"),
        schema.model("ir.model"),
    ) else {
        return out;
    };
    let bt = &store.tables[bi];
    if bt.is_empty() {
        return out;
    }
    let (bdef, adef, fdef, mdef) = (schema.get(bi), schema.get(ai), schema.get(fi), schema.get(mi));
    let (at, ft, mt) = (&store.tables[ai], &store.tables[fi], &store.tables[mi]);
    let field_names = |ids: &[u32]| -> Vec<String> {
        let c = fdef.col_of("name");
        ids.iter().filter_map(|&id| ft.row_of(id).and_then(|r| str_at(ft, c, r))).collect()
    };
    let trig = bdef.fdef("trigger").expect("base.automation.trigger");
    for r in 0..bt.len() {
        if !bt.bool_at(bdef.col_of("active"), r) {
            continue;
        }
        let model_name =
            mt.row_of(bt.m2o_at(bdef.col_of("model_id"), r)).and_then(|x| str_at(mt, mdef.col_of("model"), x));
        let Some(model) = model_name.and_then(|n| schema.model(&n)) else { continue };
        let key = trig.selection.get(bt.sel_at(trig.col().unwrap_or(0), r) as usize).map(|x| x.0).unwrap_or("");
        let (on_create, on_write, on_unlink, archive) = match key {
            "on_create_or_write" => (true, true, false, None),
            "on_create" => (true, false, false, None),
            "on_write" => (false, true, false, None),
            "on_unlink" => (false, false, true, None),
            "on_archive" => (false, false, false, Some(false)),
            "on_unarchive" => (false, false, false, Some(true)),
            _ => continue,
        };
        let state = adef.fdef("state").expect("ir.actions.server.state");
        let mut actions = Vec::new();
        for &aid in bt.ids_at(bdef.col_of("action_server_ids"), r) {
            let Some(ar) = at.row_of(aid) else { continue };
            let s = state.selection.get(at.sel_at(state.col().unwrap_or(0), ar) as usize).map(|x| x.0);
            if s != Some("webhook") {
                continue;
            }
            // Odoo raises a UserError for a webhook without URL; here it is counted as a failure.
            let url = str_at(at, adef.col_of("webhook_url"), ar).unwrap_or_default();
            let name = str_at(at, adef.col_of("name"), ar).unwrap_or_else(|| "False".into());
            actions.push(Act {
                tag: format!("{name}(#{aid})"),
                url,
                fields: field_names(at.ids_at(adef.col_of("webhook_field_ids"), ar)),
            });
        }
        if actions.is_empty() {
            continue;
        }
        out.push(Rule {
            models: Some(vec![model]),
            on_create,
            on_write,
            on_unlink,
            archive,
            trigger_fields: field_names(bt.ids_at(bdef.col_of("trigger_field_ids"), r)),
            actions,
        });
    }
    out
}

/// Whether any rule could fire for a change to one of `models` (cheap: no snapshot otherwise).
fn any_rule_for(sim: &Sim, store: &Store, models: &[usize]) -> bool {
    let bench = sim.webhooks.bench.lock().unwrap_or_else(|e| e.into_inner()).is_some();
    let stored = sim.schema.model("base.automation").is_some_and(|b| !store.tables[b].is_empty());
    if !bench && !stored {
        return false;
    }
    let rs = rules(sim, store);
    models.iter().any(|&m| rs.iter().any(|r| r.covers(&sim.schema, m)))
}

/// Python's `json.dumps` string (ensure_ascii=True).
fn write_ascii_str(out: &mut String, s: &str) {
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for u in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{:04x}", u));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// One field of a record as `read(load=None)` gives it, then `json.dumps(default=str)`.
fn render_val(out: &mut String, ftype: FType, selection: &[(&str, &str)], v: &Val) {
    match (ftype, v) {
        (FType::Boolean, Val::Bool(b)) => out.push_str(if *b { "true" } else { "false" }),
        (_, Val::False) => out.push_str(if ftype.is_x2many() { "[]" } else { "false" }),
        (_, Val::Bool(b)) => out.push_str(if *b { "true" } else { "false" }),
        (FType::Float | FType::Monetary, x) => write_float(out, x.as_f64()),
        (_, Val::Int(i)) => write_int(out, *i),
        (_, Val::Float(f)) => write_float(out, *f),
        (_, Val::Str(s)) => write_ascii_str(out, s),
        (_, Val::Sel(i)) => match selection.get(*i as usize) {
            Some((k, _)) => write_ascii_str(out, k),
            None => out.push_str("false"),
        },
        (_, Val::M2o(id)) => write_int(out, *id as i64),
        (_, Val::Ids(ids)) => {
            out.push('[');
            for (i, id) in ids.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_int(out, *id as i64);
            }
            out.push(']');
        }
        (_, Val::Dt(t)) => write_ascii_str(out, &fmt_dt(*t)),
    }
}

fn display_of(schema: &Schema, model: usize, row: &Row) -> String {
    let def = schema.get(model);
    let text = |fi: usize| -> Option<String> {
        let f = &def.fields[fi];
        match f.col().map(|c| &row[c]) {
            Some(Val::Str(s)) => Some(s.to_string()),
            Some(Val::Dt(t)) => Some(fmt_dt(*t)),
            _ => None,
        }
    };
    match def.display {
        Display::Field(fi) => text(fi).unwrap_or_default(),
        Display::CodeName { code, name } => match text(code) {
            Some(c) => format!("[{c}] {}", text(name).unwrap_or_default()),
            None => text(name).unwrap_or_default(),
        },
    }
}

/// The JSON body Odoo posts for one record.
fn payload(schema: &Schema, act: &Act, model: usize, id: u32, row: &Row) -> String {
    let def = schema.get(model);
    let mut parts: Vec<(String, String)> = Vec::new();
    let mut s = String::new();
    write_ascii_str(&mut s, &act.tag);
    parts.push(("_action".into(), s));
    parts.push(("_id".into(), id.to_string()));
    let mut s = String::new();
    write_ascii_str(&mut s, def.name);
    parts.push(("_model".into(), s));
    let mut names: Vec<&str> = act.fields.iter().map(|s| s.as_str()).collect();
    if !names.is_empty() {
        names.insert(0, "id"); // read() always returns the id
    }
    for name in names {
        let Some(f) = def.fdef(name) else { continue };
        if parts.iter().any(|(k, _)| k == name) {
            continue;
        }
        let mut s = String::new();
        match f.storage {
            Storage::Id => write_int(&mut s, id as i64),
            Storage::DisplayName => write_ascii_str(&mut s, &display_of(schema, model, row)),
            Storage::Col(c) | Storage::Alias(c) => render_val(&mut s, f.ftype, &f.selection, &row[c]),
        }
        parts.push((name.to_string(), s));
    }
    parts.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = String::from("{");
    for (i, (k, v)) in parts.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_ascii_str(&mut out, k);
        out.push_str(": ");
        out.push_str(v);
    }
    out.push('}');
    out
}

/// The POSTs the touches fire, read from `store` (written data; deletions from `before`).
pub fn events(sim: &Sim, store: &Store, touches: &[Touch]) -> Vec<Event> {
    if touches.is_empty() {
        return Vec::new();
    }
    let rs = rules(sim, store);
    let mut out = Vec::new();
    for rule in &rs {
        for act in &rule.actions {
            for t in touches.iter().filter(|t| rule.fires(&sim.schema, store, t)) {
                let row = match &t.before {
                    Some(r) => r.clone(),
                    None => {
                        let tab = &store.tables[t.model];
                        let Some(r) = tab.row_of(t.id) else { continue };
                        tab.row_vals(r)
                    }
                };
                out.push(Event { url: act.url.clone(), body: payload(&sim.schema, act, t.model, t.id, &row) });
            }
        }
    }
    out
}

fn take_tables(store: &mut Store, snap: Vec<(usize, Table)>) -> Vec<(usize, Table)> {
    snap.into_iter().map(|(m, t)| (m, std::mem::replace(&mut store.tables[m], t))).collect()
}

/// Runs a write `f` on the store (under the caller's write lock, with the gate held) and sends
/// the webhooks it fires: on 16/17/18 while the data as it was before is what readers see, then
/// the write becomes visible; on 19 after the write is visible. `fire` false: no webhook.
pub fn apply<R>(
    sim: &Sim,
    mut store: RwLockWriteGuard<'_, Store>,
    models: &[usize],
    fire: bool,
    f: impl FnOnce(&mut Store) -> (R, Vec<Touch>),
) -> R {
    if !fire || !any_rule_for(sim, &store, models) {
        return f(&mut store).0;
    }
    let pre = sim.cfg.version < 19;
    let snap: Option<Vec<(usize, Table)>> = pre.then(|| models.iter().map(|&m| (m, store.tables[m].clone())).collect());
    let (r, touches) = f(&mut store);
    let evs = events(sim, &store, &touches);
    match snap {
        Some(snap) if !evs.is_empty() => {
            let new = take_tables(&mut store, snap);
            drop(store);
            sim.webhooks.send(evs);
            let mut store = sim.store.write().unwrap_or_else(|e| e.into_inner());
            take_tables(&mut store, new);
        }
        _ => {
            drop(store);
            sim.webhooks.send(evs);
        }
    }
    r
}

/// Applies writer ops in one transaction (see `apply`).
pub fn apply_ops(sim: &Sim, store: RwLockWriteGuard<'_, Store>, ops: Vec<Op>, fire: bool) {
    let models = models_of_ops(&sim.schema, &ops);
    apply(sim, store, &models, fire, |store| {
        let touches = if fire { touches_of_ops(store, &ops) } else { Vec::new() };
        let mut w = Writer { schema: &sim.schema, store };
        for op in ops {
            w.apply(op);
        }
        ((), touches)
    });
}

/// The webhooks that ops of a still open transaction fire on 16/17/18, sent now: the ops are
/// applied to a copy of the tables they touch only to read the records, then undone.
pub fn probe_ops(sim: &Sim, mut store: RwLockWriteGuard<'_, Store>, ops: &[Op]) {
    let models = models_of_ops(&sim.schema, ops);
    if sim.cfg.version >= 19 || !any_rule_for(sim, &store, &models) {
        return;
    }
    let snap: Vec<(usize, Table)> = models.iter().map(|&m| (m, store.tables[m].clone())).collect();
    let touches = touches_of_ops(&store, ops);
    let mut w = Writer { schema: &sim.schema, store: &mut store };
    for op in ops.iter().cloned() {
        w.apply(op);
    }
    let evs = events(sim, &store, &touches);
    take_tables(&mut store, snap);
    drop(store);
    sim.webhooks.send(evs);
}
