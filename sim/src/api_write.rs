//! Writing through the API: create, write and unlink as Odoo does them, one transaction per
//! call stamped with the call's clock time, with x2many commands and Odoo's errors.

use crate::args::parse_ids;
use crate::clock::parse_dt;
use crate::errors::{OResult, OdooError};
use crate::json::py_repr;
use crate::schema::{FType, FieldDef, ModelDef, Schema, Storage};
use crate::store::{Row, Store, Val};
use crate::writer::Writer;
use serde_json::{Map, Value};

/// Converts an API value for field `f` into a stored value.
pub fn json_to_val(schema: &Schema, store: &Store, def: &ModelDef, f: &FieldDef, v: &Value) -> OResult<Val> {
    let empty = matches!(v, Value::Bool(false) | Value::Null);
    let wrong = || OdooError::value(format!("Wrong value for {}.{}: {}", def.name, f.name, py_repr(v)));
    Ok(match f.ftype {
        FType::Integer => Val::Int(match v {
            Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|x| x as i64)).ok_or_else(wrong)?,
            Value::Bool(b) => *b as i64,
            _ if empty => 0,
            _ => return Err(wrong()),
        }),
        FType::Float | FType::Monetary => Val::Float(match v {
            Value::Number(n) => n.as_f64().ok_or_else(wrong)?,
            _ if empty => 0.0,
            Value::String(s) => s.trim().parse().map_err(|_| wrong())?,
            _ => return Err(wrong()),
        }),
        FType::Boolean => Val::Bool(match v {
            Value::Bool(b) => *b,
            Value::Number(n) => n.as_f64().unwrap_or(0.0) != 0.0,
            Value::String(s) => !s.is_empty(),
            _ => false,
        }),
        FType::Char | FType::Text => match v {
            _ if empty => Val::False,
            Value::String(s) => Val::str(s),
            Value::Number(n) => Val::str(&n.to_string()),
            _ => return Err(wrong()),
        },
        FType::Selection => match v {
            _ if empty => Val::False,
            Value::String(s) => Val::Sel(f.sel_index(s).ok_or_else(wrong)?),
            _ => return Err(wrong()),
        },
        FType::Many2one => match v {
            _ if empty => Val::False,
            Value::Number(n) => {
                let id = n.as_u64().filter(|&i| i > 0 && i <= u32::MAX as u64).ok_or_else(wrong)? as u32;
                if let Some(rel) = f.rel_model {
                    if store.tables[rel].row_of(id).is_none() {
                        return Err(OdooError::missing(format!(
                            "Record does not exist or has been deleted.\n(Record: {}({},), User: 2)",
                            schema.get(rel).name,
                            id
                        )));
                    }
                }
                Val::M2o(id)
            }
            _ => return Err(wrong()),
        },
        FType::Datetime => match v {
            _ if empty => Val::False,
            Value::String(s) => Val::Dt(parse_dt(s).ok_or_else(|| {
                OdooError::value(format!("time data {} does not match format '%Y-%m-%d %H:%M:%S'", py_repr(v)))
            })?),
            _ => return Err(wrong()),
        },
        FType::One2many | FType::Many2many => return Err(wrong()),
    })
}

/// API writes: one call = one transaction, stamped with the call's clock time.
pub struct ApiWriter<'a> {
    pub schema: &'a Schema,
    pub store: &'a mut Store,
    pub now: i64,
    pub uid: u32,
    pub model: usize,
    /// The records this call created, wrote and deleted (for webhooks, webhook.rs).
    pub touches: Vec<crate::webhook::Touch>,
}

const MAGIC: &[&str] = &["id", "display_name", "create_uid", "create_date", "write_uid", "write_date"];

impl<'a> ApiWriter<'a> {
    fn writer(&mut self) -> Writer<'_> {
        Writer { schema: self.schema, store: self.store }
    }

    fn check_fields(&self, def: &ModelDef, map: &Map<String, Value>) -> OResult<()> {
        for k in map.keys() {
            if def.field(k).is_none() {
                return Err(OdooError::value(format!("Invalid field '{}' on model '{}'", k, def.name)));
            }
        }
        Ok(())
    }

    pub fn create(&mut self, model: usize, map: &Map<String, Value>) -> OResult<u32> {
        let schema = self.schema;
        let def = schema.get(model);
        self.check_fields(def, map)?;
        let mut row: Row = vec![Val::False; def.ncols];
        // Defaults: active records, first selection state, zero numbers, empty lists.
        for f in &def.fields {
            if let Storage::Col(c) = f.storage {
                row[c] = match f.ftype {
                    FType::Boolean => Val::Bool(f.name == "active"),
                    FType::Integer => Val::Int(0),
                    FType::Float | FType::Monetary => Val::Float(0.0),
                    FType::Selection if f.required || f.name == "state" || f.name == "type" => Val::Sel(0),
                    FType::One2many | FType::Many2many => Val::ids(Vec::new()),
                    _ => Val::False,
                };
            }
        }
        let mut x2many: Vec<(usize, &Value)> = Vec::new();
        for (k, v) in map {
            let fi = def.field(k).unwrap_or(0);
            let f = &def.fields[fi];
            if MAGIC.contains(&f.name) {
                continue;
            }
            match f.storage {
                Storage::Col(c) if f.ftype.is_x2many() => x2many.push((c, v)),
                Storage::Col(c) => row[c] = json_to_val(schema, self.store, def, f, v)?,
                Storage::Alias(c) => row[c] = json_to_val(schema, self.store, def, f, v)?,
                _ => {}
            }
        }
        let id = self.store.tables[model].alloc_id();
        crate::defaults::fill(schema, self.store, model, id, &mut row, self.now, self.uid);
        for c in ["create_date", "write_date"] {
            row[def.col_of(c)] = Val::Dt(self.now);
        }
        for c in ["create_uid", "write_uid"] {
            row[def.col_of(c)] = Val::M2o(self.uid);
        }
        // Many2many given at create time; one2many children are created after the parent.
        let mut children = Vec::new();
        for (c, v) in &x2many {
            let f = def.fields.iter().find(|f| f.col() == Some(*c)).ok_or_else(|| OdooError::value("bad field"))?;
            if f.ftype == FType::Many2many {
                row[*c] = Val::ids(self.m2m_commands(f, &[], v)?);
            } else {
                children.push((f, *v));
            }
        }
        self.check_required(def, &row)?;
        self.writer().insert(model, id, row);
        self.touches.push(crate::webhook::Touch::create(model, id));
        for (f, v) in children {
            self.o2m_commands(id, f, v)?;
        }
        Ok(id)
    }

    fn check_required(&self, def: &ModelDef, row: &Row) -> OResult<()> {
        for f in &def.fields {
            if let (true, Storage::Col(c)) = (f.required, f.storage) {
                if matches!(row[c], Val::False) {
                    return Err(OdooError::validation(format!(
                        "The operation cannot be completed:\n- Create/update: a mandatory field is not set.\n- Delete: another model requires the record being deleted. If possible, archive it instead.\n\nModel: {} ({})\nField: {} ({})",
                        def.description, def.name, f.string, f.name
                    )));
                }
            }
        }
        Ok(())
    }

    fn m2m_commands(&self, f: &FieldDef, current: &[u32], v: &Value) -> OResult<Vec<u32>> {
        let mut ids: Vec<u32> = current.to_vec();
        let bad = || OdooError::value(format!("Invalid x2many command {}", py_repr(v)));
        let Value::Array(cmds) = v else { return Err(bad()) };
        for c in cmds {
            match c {
                Value::Number(n) => ids.push(n.as_u64().ok_or_else(bad)? as u32),
                Value::Array(a) => match a.first().and_then(|x| x.as_u64()) {
                    Some(4) => ids.push(a.get(1).and_then(|x| x.as_u64()).ok_or_else(bad)? as u32),
                    Some(3) => {
                        let id = a.get(1).and_then(|x| x.as_u64()).ok_or_else(bad)? as u32;
                        ids.retain(|&i| i != id);
                    }
                    Some(5) => ids.clear(),
                    Some(6) => ids = parse_ids(a.get(2).unwrap_or(&Value::Null))?,
                    _ => return Err(bad()),
                },
                _ => return Err(bad()),
            }
        }
        ids.sort_unstable();
        ids.dedup();
        // Linking a record that does not exist fails, as the relation table's foreign key does.
        if let Some(rel) = f.rel_model {
            let t = &self.store.tables[rel];
            if let Some(gone) = ids.iter().find(|&&i| t.row_of(i).is_none()) {
                return Err(OdooError::missing(format!(
                    "Record does not exist or has been deleted.\n(Record: {}({},), User: {})",
                    self.schema.get(rel).name,
                    gone,
                    self.uid
                )));
            }
        }
        Ok(ids)
    }

    /// One2many commands: (0, 0, vals) create, (1, id, vals) update, (2, id) delete.
    fn o2m_commands(&mut self, id: u32, f: &FieldDef, v: &Value) -> OResult<()> {
        let bad = || OdooError::value(format!("Invalid one2many command {}", py_repr(v)));
        let (Some(child), Some(inv)) = (f.rel_model, f.relation_field) else { return Err(bad()) };
        let Value::Array(cmds) = v else { return Err(bad()) };
        for c in cmds {
            let Value::Array(a) = c else { return Err(bad()) };
            match a.first().and_then(|x| x.as_u64()) {
                Some(0) => {
                    let mut vals = a.get(2).and_then(|x| x.as_object()).cloned().ok_or_else(bad)?;
                    vals.insert(inv.to_string(), Value::from(id));
                    self.create(child, &vals)?;
                }
                Some(1) => {
                    let cid = a.get(1).and_then(|x| x.as_u64()).ok_or_else(bad)? as u32;
                    let vals = a.get(2).and_then(|x| x.as_object()).cloned().ok_or_else(bad)?;
                    self.write(child, &[cid], &vals)?;
                }
                Some(2) => {
                    let cid = a.get(1).and_then(|x| x.as_u64()).ok_or_else(bad)? as u32;
                    self.unlink(child, &[cid])?;
                }
                _ => return Err(bad()),
            }
        }
        Ok(())
    }

    fn missing(&self, model: usize, ids: &[u32]) -> OResult<()> {
        let t = &self.store.tables[model];
        let gone: Vec<String> = ids.iter().filter(|&&i| t.row_of(i).is_none()).map(|i| i.to_string()).collect();
        if gone.is_empty() {
            return Ok(());
        }
        Err(OdooError::missing(format!(
            "Record does not exist or has been deleted.\n(Record: {}({},), User: {})",
            self.schema.get(model).name,
            gone.join(", "),
            self.uid
        )))
    }

    pub fn write(&mut self, model: usize, ids: &[u32], map: &Map<String, Value>) -> OResult<()> {
        let schema = self.schema;
        let def = schema.get(model);
        self.check_fields(def, map)?;
        self.missing(model, ids)?;
        for &id in ids {
            let mut changes = Vec::new();
            let mut children = Vec::new();
            for (k, v) in map {
                let fi = def.field(k).unwrap_or(0);
                let f = &def.fields[fi];
                if MAGIC.contains(&f.name) {
                    continue;
                }
                match f.storage {
                    Storage::Col(c) if f.ftype == FType::Many2many => {
                        let t = &self.store.tables[model];
                        let cur = t.row_of(id).map(|r| t.ids_at(c, r).to_vec()).unwrap_or_default();
                        changes.push((c, Val::ids(self.m2m_commands(f, &cur, v)?)));
                    }
                    Storage::Col(_) if f.ftype == FType::One2many => children.push((f, v)),
                    Storage::Col(c) | Storage::Alias(c) => {
                        changes.push((c, json_to_val(schema, self.store, def, f, v)?))
                    }
                    _ => {}
                }
            }
            changes.push((def.col_of("write_date"), Val::Dt(self.now)));
            changes.push((def.col_of("write_uid"), Val::M2o(self.uid)));
            self.touches.extend(crate::webhook::Touch::write(self.store, model, id, &changes));
            self.writer().update(model, id, changes);
            for (f, v) in children {
                self.o2m_commands(id, f, v)?;
            }
        }
        Ok(())
    }

    pub fn unlink(&mut self, model: usize, ids: &[u32]) -> OResult<()> {
        let def = self.schema.get(model);
        if def.name == "pos.order" {
            let t = &self.store.tables[model];
            let state = def.fdef("state").and_then(|f| f.col()).unwrap_or(0);
            for &id in ids {
                if let Some(r) = t.row_of(id) {
                    let s = t.sel_at(state, r);
                    let key = def.fdef("state").and_then(|f| f.selection.get(s as usize)).map(|x| x.0);
                    if !matches!(key, Some("draft") | Some("cancel")) {
                        return Err(OdooError::user_error("In order to delete a sale, it must be new or cancelled."));
                    }
                }
            }
        }
        for &id in ids {
            if let Some((child, field)) = crate::defaults::restricting_reference(self.schema, self.store, model, id) {
                let cdef = self.schema.get(child);
                return Err(OdooError::validation(format!(
                    "The operation cannot be completed: another model requires the record being deleted. If possible, archive it instead.\n\nModel: {} ({}), Constraint: {}_{}_fkey",
                    cdef.description,
                    cdef.name,
                    cdef.name.replace('.', "_"),
                    field
                )));
            }
        }
        for &id in ids {
            let t = &self.store.tables[model];
            if let Some(r) = t.row_of(id) {
                self.touches.push(crate::webhook::Touch::unlink(model, id, t.row_vals(r)));
            }
            crate::defaults::set_null_references(self.schema, self.store, model, id);
            self.writer().delete(model, id);
        }
        Ok(())
    }
}
