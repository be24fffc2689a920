//! The model methods reachable over the API (`execute_kw` and JSON-2): lookup with Odoo's
//! errors, argument binding with Python's messages, and dispatch to reading (query.rs) or
//! writing (api_write.rs).

use crate::api_write::ApiWriter;
use crate::errors::{OResult, OdooError};
use crate::json::{py_repr, write_int, write_str};
use crate::query::{fields_get, Query};
use crate::schema::{ModelDef, Schema};
use crate::sim::Sim;
use serde_json::{Map, Value};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum M {
    SearchRead,
    Search,
    SearchCount,
    Read,
    FieldsGet,
    Create,
    Write,
    Unlink,
    Load,
    NameSearch,
    /// Public methods that return None (the response then has no `result` key).
    ReturnsNone,
}

pub struct Method {
    pub name: &'static str,
    pub m: M,
    /// Called on records (`ids` first on /jsonrpc, `ids` key on JSON-2).
    pub records: bool,
    /// (name, required)
    pub params: &'static [(&'static str, bool)],
}

pub const METHODS: &[Method] = &[
    Method {
        name: "search_read",
        m: M::SearchRead,
        records: false,
        params: &[
            ("domain", false),
            ("fields", false),
            ("offset", false),
            ("limit", false),
            ("order", false),
            ("load", false),
        ],
    },
    Method {
        name: "search",
        m: M::Search,
        records: false,
        params: &[("domain", true), ("offset", false), ("limit", false), ("order", false)],
    },
    Method { name: "search_count", m: M::SearchCount, records: false, params: &[("domain", true), ("limit", false)] },
    Method { name: "read", m: M::Read, records: true, params: &[("fields", false), ("load", false)] },
    Method {
        name: "fields_get",
        m: M::FieldsGet,
        records: false,
        params: &[("allfields", false), ("attributes", false)],
    },
    Method { name: "create", m: M::Create, records: false, params: &[("vals_list", true)] },
    Method { name: "write", m: M::Write, records: true, params: &[("vals", true)] },
    Method { name: "unlink", m: M::Unlink, records: true, params: &[] },
    Method { name: "load", m: M::Load, records: false, params: &[("fields", true), ("data", true)] },
    Method {
        name: "name_search",
        m: M::NameSearch,
        records: false,
        params: &[("name", false), ("domain", false), ("operator", false), ("limit", false)],
    },
    Method { name: "flush_model", m: M::ReturnsNone, records: false, params: &[("fnames", false)] },
    Method {
        name: "invalidate_model",
        m: M::ReturnsNone,
        records: false,
        params: &[("fnames", false), ("flush", false)],
    },
];

/// Finds the model and method as Odoo's `execute_kw` does, with its errors.
pub fn resolve(schema: &Schema, model: &str, method: &str) -> OResult<(usize, &'static Method)> {
    let mi = schema.model(model).ok_or_else(|| OdooError::user_error(format!("Object {} doesn't exist", model)))?;
    let meth = resolve_method(schema.get(mi), method)?;
    Ok((mi, meth))
}

pub fn resolve_method(def: &ModelDef, method: &str) -> OResult<&'static Method> {
    if method.starts_with('_') {
        return Err(OdooError::access_error(format!(
            "Private methods (such as '{}.{}') cannot be called remotely.",
            def.name, method
        )));
    }
    METHODS
        .iter()
        .find(|m| m.name == method)
        .ok_or_else(|| OdooError::attribute(format!("The method '{}.{}' does not exist", def.name, method)))
}

/// Binds positional and keyword arguments to the method's parameters (Null = default).
/// `json2` selects `inspect.Signature.bind`'s messages (→ 422) over Python call errors.
pub fn bind(meth: &Method, args: &[Value], kwargs: &Map<String, Value>, json2: bool) -> OResult<Vec<Value>> {
    let n = meth.params.len();
    let qual = format!("BaseModel.{}()", meth.name);
    let err = |py: String, sig: String| if json2 { OdooError::http(422, sig) } else { OdooError::type_error(py) };
    if args.len() > n {
        let min = 1 + meth.params.iter().filter(|p| p.1).count();
        let takes = if min == n + 1 {
            format!("{} positional argument{}", n + 1, if n == 0 { "" } else { "s" })
        } else {
            format!("from {} to {} positional arguments", min, n + 1)
        };
        return Err(err(
            format!("{} takes {} but {} were given", qual, takes, args.len() + 1),
            "too many positional arguments".into(),
        ));
    }
    let mut out: Vec<Option<Value>> = vec![None; n];
    for (i, a) in args.iter().enumerate() {
        out[i] = Some(a.clone());
    }
    for (k, v) in kwargs {
        let Some(i) = meth.params.iter().position(|p| p.0 == k) else {
            return Err(err(
                format!("{} got an unexpected keyword argument '{}'", qual, k),
                format!("got an unexpected keyword argument '{}'", k),
            ));
        };
        if out[i].is_some() {
            return Err(err(
                format!("{} got multiple values for argument '{}'", qual, k),
                format!("multiple values for argument '{}'", k),
            ));
        }
        out[i] = Some(v.clone());
    }
    for (i, (name, required)) in meth.params.iter().enumerate() {
        if *required && out[i].is_none() {
            return Err(err(
                format!("{} missing 1 required positional argument: '{}'", qual, name),
                format!("missing a required argument: '{}'", name),
            ));
        }
    }
    Ok(out.into_iter().map(|v| v.unwrap_or(Value::Null)).collect())
}

pub struct Call<'a> {
    pub model: usize,
    pub method: &'static Method,
    pub ids: Vec<u32>,
    pub params: Vec<Value>,
    pub context: &'a Value,
    pub uid: u32,
    /// JSON-2 returns ids lists where /jsonrpc returns a bare id for a single create.
    pub json2: bool,
}

fn opt_usize(v: &Value, what: &str) -> OResult<Option<usize>> {
    match v {
        Value::Null | Value::Bool(false) => Ok(None),
        Value::Number(n) => Ok(n.as_u64().map(|u| u as usize).filter(|&u| u > 0)),
        other => Err(OdooError::type_error(format!("'{}' must be an integer, got {}", what, py_repr(other)))),
    }
}

/// Runs the call, writing the JSON result into `out`. Ok(false) = the method returned None.
pub fn run(sim: &Sim, call: &Call, out: &mut String) -> OResult<bool> {
    let def = sim.schema.get(call.model);
    if !def.accessible {
        return Err(OdooError::access_error(format!(
            "You are not allowed to access '{}' ({}) records.\n\nThis operation is allowed for the following groups:\n\t- Role / Administrator\n\nContact your administrator to request access if necessary.",
            def.description, def.name
        )));
    }
    let p = &call.params;
    match call.method.m {
        M::SearchRead | M::Search | M::SearchCount | M::Read | M::FieldsGet | M::NameSearch => {
            let store = sim.store.read().unwrap_or_else(|e| e.into_inner());
            let q = Query { sim, store: &store, model: call.model };
            match call.method.m {
                M::SearchRead => {
                    let fields = q.fields(&p[1])?;
                    let rows = q.search(
                        &p[0],
                        call.context,
                        p[4].as_str(),
                        opt_usize(&p[2], "offset")?.unwrap_or(0),
                        opt_usize(&p[3], "limit")?,
                    )?;
                    q.render(out, &rows, &fields, load_classic(&p[5]));
                    crate::serving::rendered((rows.len() * (fields.len() + 1)) as u64);
                    // + the id, always rendered
                }
                M::Search => {
                    let rows = q.search(
                        &p[0],
                        call.context,
                        p[3].as_str(),
                        opt_usize(&p[1], "offset")?.unwrap_or(0),
                        opt_usize(&p[2], "limit")?,
                    )?;
                    let t = &store.tables[call.model];
                    write_id_list(out, rows.iter().map(|&r| t.ids[r]));
                    crate::serving::rendered(rows.len() as u64);
                }
                M::SearchCount => {
                    let n = q.count(&p[0], call.context, opt_usize(&p[1], "limit")?)?;
                    write_int(out, n as i64);
                }
                M::Read => {
                    let fields = q.fields(&p[0])?;
                    let t = &store.tables[call.model];
                    let rows: Vec<usize> = call.ids.iter().filter_map(|&id| t.row_of(id)).collect();
                    q.render(out, &rows, &fields, load_classic(&p[1]));
                    crate::serving::rendered((rows.len() * (fields.len() + 1)) as u64);
                    // + the id, always rendered
                }
                M::FieldsGet => fields_get(def, &p[0], &p[1], out)?,
                M::NameSearch => {
                    let name = p[0].as_str().unwrap_or("");
                    let op = p[2].as_str().unwrap_or("ilike");
                    let mut dom = match &p[1] {
                        Value::Array(a) => a.clone(),
                        _ => Vec::new(),
                    };
                    if !name.is_empty() {
                        dom.push(serde_json::json!(["display_name", op, name]));
                    }
                    let limit = if p[3].is_null() { Some(100) } else { opt_usize(&p[3], "limit")? };
                    let rows = q.search(&Value::Array(dom), call.context, None, 0, limit)?;
                    out.push('[');
                    for (i, &r) in rows.iter().enumerate() {
                        if i > 0 {
                            out.push_str(", ");
                        }
                        out.push('[');
                        write_int(out, store.tables[call.model].ids[r] as i64);
                        out.push_str(", ");
                        write_str(out, &store.display_row(&sim.schema, call.model, r));
                        out.push(']');
                    }
                    out.push(']');
                }
                _ => unreachable!(),
            }
            Ok(true)
        }
        M::ReturnsNone => Ok(false),
        M::Create | M::Write | M::Unlink | M::Load => {
            // One transaction; the webhooks it fires are sent before (16-18) or after (19) it
            // becomes visible (webhook.rs).
            let _gate = sim.webhooks.gate.lock().unwrap_or_else(|e| e.into_inner());
            let now = sim.clock.now();
            let store = sim.store.write().unwrap_or_else(|e| e.into_inner());
            let mut models = crate::webhook::touched_models(&sim.schema, call.model, call.method.m == M::Unlink);
            if call.method.m == M::Load {
                models.push(sim.schema.idx("ir.model.data"));
            }
            crate::webhook::apply(sim, store, &models, true, |store| {
                let mut w = ApiWriter {
                    schema: &sim.schema,
                    store,
                    now,
                    uid: call.uid,
                    model: call.model,
                    touches: Vec::new(),
                };
                let r = write_call(&mut w, call, p, out);
                (r, w.touches)
            })?;
            Ok(true)
        }
    }
}

fn write_call(w: &mut ApiWriter, call: &Call, p: &[Value], out: &mut String) -> OResult<()> {
    match call.method.m {
        M::Create => {
            let (list, single) = match &p[0] {
                Value::Object(_) => (vec![p[0].clone()], true),
                Value::Array(a) => (a.clone(), false),
                other => return Err(OdooError::value(format!("Invalid vals_list {}", py_repr(other)))),
            };
            let mut ids = Vec::new();
            for vals in &list {
                let Value::Object(map) = vals else {
                    return Err(OdooError::value(format!("Invalid values {} for create", py_repr(vals))));
                };
                ids.push(w.create(call.model, map)?);
            }
            if single && !call.json2 {
                write_int(out, ids[0] as i64);
            } else {
                write_id_list(out, ids.into_iter());
            }
        }
        M::Write => {
            let Value::Object(map) = &p[0] else {
                return Err(OdooError::value(format!("Invalid values {} for write", py_repr(&p[0]))));
            };
            w.write(call.model, &call.ids, map)?;
            out.push_str("true");
        }
        M::Unlink => {
            w.unlink(call.model, &call.ids)?;
            out.push_str("true");
        }
        M::Load => out.push_str(&w.load(call.model, &p[0], &p[1])?.to_string()),
        _ => unreachable!(),
    }
    Ok(())
}

fn load_classic(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s == "_classic_read",
        _ => false,
    }
}

fn write_id_list(out: &mut String, ids: impl Iterator<Item = u32>) {
    out.push('[');
    for (i, id) in ids.enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_int(out, id as i64);
    }
    out.push(']');
}
