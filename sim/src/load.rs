//! `load(fields, data)`: Odoo's import, which write-back uses as an idempotent upsert.
//!
//! As in Odoo (`BaseModel.load`): the `id` column is an external id (`module.name`; without a
//! dot the module is `__import__`): a known one is written, an unknown one is created and
//! registered in `ir.model.data`. `.id` is a database id (written). Relational columns take
//! `field/id` (external ids) or `field/.id` (database ids); a many2many column replaces the whole
//! set, comma-separated. Cells are strings, converted as Odoo's `ir.fields.converter` does.
//! A row that cannot be imported does not raise: the answer is `{"ids": false, "messages": [...]}`
//! and the whole call is rolled back. An unknown column raises (`ValueError`).

use crate::api_write::ApiWriter;
use crate::errors::{OResult, OdooError};
use crate::schema::{FType, FieldDef, ModelDef};
use serde_json::{json, Map, Value};

/// The module of external ids without a dot.
const IMPORT_MODULE: &str = "__import__";

enum Column<'a> {
    /// `id`: the record's external id.
    Xmlid,
    /// `.id`: the record's database id.
    DbId,
    /// A field, by value, by external id (`/id`) or by database id (`/.id`).
    Field { f: &'a FieldDef, by: By },
}

#[derive(Clone, Copy, PartialEq)]
enum By {
    Value,
    Xmlid,
    DbId,
}

fn columns<'a>(def: &'a ModelDef, fields: &Value) -> OResult<Vec<Column<'a>>> {
    let Value::Array(names) = fields else {
        return Err(OdooError::type_error("load() fields must be a list of column names"));
    };
    let mut out = Vec::with_capacity(names.len());
    for n in names {
        let name = n.as_str().ok_or_else(|| OdooError::type_error("load() fields must be a list of column names"))?;
        let col = match name {
            "id" => Column::Xmlid,
            ".id" => Column::DbId,
            _ => {
                let (field, by) = match name.split_once('/') {
                    None => (name, By::Value),
                    Some((f, "id")) => (f, By::Xmlid),
                    Some((f, ".id")) => (f, By::DbId),
                    Some(_) => return Err(OdooError::value(format!("Invalid field name '{name}'"))),
                };
                let f = def
                    .fdef(field)
                    .filter(|f| f.store && f.ftype != FType::One2many)
                    .ok_or_else(|| OdooError::value(format!("Invalid field name '{field}'")))?;
                if by != By::Value && !f.ftype.is_relational() {
                    return Err(OdooError::value(format!("Invalid field name '{name}'")));
                }
                Column::Field { f, by }
            }
        };
        out.push(col);
    }
    Ok(out)
}

fn split_xmlid(xmlid: &str) -> (&str, &str) {
    xmlid.split_once('.').unwrap_or((IMPORT_MODULE, xmlid))
}

fn cell_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null | Value::Bool(false) => String::new(),
        Value::Bool(true) => "1".into(),
        other => other.to_string(),
    }
}

impl ApiWriter<'_> {
    /// The record an external id names in `model`, if it is registered and the record exists.
    pub fn xmlid_target(&self, model: &str, xmlid: &str) -> Option<u32> {
        let (module, name) = split_xmlid(xmlid);
        let imd = self.schema.idx("ir.model.data");
        let d = self.schema.get(imd);
        let t = &self.store.tables[imd];
        let (cm, cn, cmo, cr) = (d.col_of("module"), d.col_of("name"), d.col_of("model"), d.col_of("res_id"));
        let id = (0..t.len()).find_map(|r| {
            (t.str_at(cm, r) == Some(module) && t.str_at(cn, r) == Some(name) && t.str_at(cmo, r) == Some(model))
                .then(|| t.get(r, cr).as_f64() as u32)
        })?;
        let target = self.schema.model(model)?;
        self.store.tables[target].row_of(id).map(|_| id)
    }

    fn register_xmlid(&mut self, model: &str, xmlid: &str, id: u32) -> OResult<()> {
        let (module, name) = split_xmlid(xmlid);
        let imd = self.schema.idx("ir.model.data");
        let vals = json!({"module": module, "name": name, "model": model, "res_id": id});
        self.create(imd, vals.as_object().expect("an object"))?;
        Ok(())
    }

    /// One cell of a field column as the API value that create/write take, or the message.
    fn convert(&self, f: &FieldDef, by: By, text: &str) -> Result<Value, String> {
        if text.is_empty() {
            return Ok(if f.ftype == FType::Many2many { json!([[6, 0, []]]) } else { Value::Bool(false) });
        }
        let rel = f.relation.unwrap_or("");
        let db_id = |t: &str| -> Result<u32, String> {
            let id: u32 =
                t.trim().parse().map_err(|_| format!("Invalid database id '{t}' for the field '{}'", f.string))?;
            let exists = f.rel_model.is_some_and(|m| self.store.tables[m].row_of(id).is_some());
            if exists {
                Ok(id)
            } else {
                Err(format!("No matching record found for database id '{t}' in field '{}'", f.string))
            }
        };
        let by_xmlid = |t: &str| -> Result<u32, String> {
            self.xmlid_target(rel, t.trim())
                .ok_or_else(|| format!("No matching record found for external id '{t}' in field '{}'", f.string))
        };
        Ok(match (f.ftype, by) {
            (FType::Many2one, By::Xmlid) => json!(by_xmlid(text)?),
            (FType::Many2one, By::DbId) => json!(db_id(text)?),
            (FType::Many2many, By::Xmlid | By::DbId) => {
                let mut ids = Vec::new();
                for part in text.split(',') {
                    ids.push(if by == By::Xmlid { by_xmlid(part)? } else { db_id(part)? });
                }
                json!([[6, 0, ids]])
            }
            (FType::Many2one | FType::Many2many, By::Value) => {
                return Err(format!("Importing {} by name is not supported here: use {}/id", f.string, f.name))
            }
            (FType::Integer, _) => json!(text
                .trim()
                .parse::<i64>()
                .map_err(|_| format!("'{text}' does not seem to be an integer for field '{}'", f.string))?),
            (FType::Float | FType::Monetary, _) => json!(text
                .trim()
                .parse::<f64>()
                .map_err(|_| format!("'{text}' does not seem to be a number for field '{}'", f.string))?),
            (FType::Boolean, _) => match text.to_lowercase().as_str() {
                "1" | "true" | "yes" => json!(true),
                "0" | "false" | "no" => json!(false),
                _ => return Err(format!("Unknown value '{text}' for boolean field '{}'", f.string)),
            },
            (FType::Selection, _) => {
                if f.sel_index(text).is_none() {
                    return Err(format!("Value '{text}' not found in selection field '{}'", f.string));
                }
                json!(text)
            }
            _ => json!(text),
        })
    }

    /// Imports one row; Err is the row's message (field, text).
    fn load_row(
        &mut self,
        model: usize,
        cols: &[Column],
        row: &[Value],
    ) -> Result<u32, (Option<&'static str>, String)> {
        let def = self.schema.get(model);
        let mut vals = Map::new();
        let (mut xmlid, mut db_id) = (None, None);
        for (c, cell) in cols.iter().zip(row.iter().chain(std::iter::repeat(&Value::Null))) {
            let text = cell_text(cell);
            match c {
                Column::Xmlid if !text.is_empty() => xmlid = Some(text),
                Column::DbId if !text.is_empty() => {
                    db_id =
                        Some(text.trim().parse::<u32>().map_err(|_| (None, format!("Invalid database id '{text}'")))?)
                }
                Column::Xmlid | Column::DbId => {}
                Column::Field { f, by } => {
                    vals.insert(f.name.to_string(), self.convert(f, *by, &text).map_err(|m| (Some(f.name), m))?);
                }
            }
        }
        let existing = match (db_id, &xmlid) {
            (Some(id), _) => {
                if self.store.tables[model].row_of(id).is_none() {
                    return Err((
                        None,
                        format!("Record does not exist or has been deleted. (Record: {}({id},))", def.name),
                    ));
                }
                Some(id)
            }
            (None, Some(x)) => self.xmlid_target(def.name, x),
            (None, None) => None,
        };
        let as_message = |e: OdooError| {
            let field = def.fields.iter().find(|f| e.message.contains(&format!("({})", f.name))).map(|f| f.name);
            (field, e.message)
        };
        match existing {
            Some(id) => {
                if let Some(f) =
                    def.fields.iter().find(|f| f.required && matches!(vals.get(f.name), Some(Value::Bool(false))))
                {
                    return Err((Some(f.name), missing_required(f)));
                }
                self.write(model, &[id], &vals).map_err(as_message)?;
                Ok(id)
            }
            None => {
                // Text fields have no defaults; other required fields are left to create's check.
                if let Some(f) = def.fields.iter().find(|f| {
                    f.required
                        && matches!(f.ftype, FType::Char | FType::Text)
                        && !matches!(vals.get(f.name), Some(v) if *v != Value::Bool(false))
                }) {
                    return Err((Some(f.name), missing_required(f)));
                }
                let id = self.create(model, &vals).map_err(as_message)?;
                if let Some(x) = &xmlid {
                    self.register_xmlid(def.name, x, id).map_err(as_message)?;
                }
                Ok(id)
            }
        }
    }

    /// The whole call: the answer, with every change undone when a row failed.
    pub fn load(&mut self, model: usize, fields: &Value, data: &Value) -> OResult<Value> {
        let def = self.schema.get(model);
        let cols = columns(def, fields)?;
        let Value::Array(rows) = data else {
            return Err(OdooError::type_error("load() data must be a list of rows"));
        };
        let before = self.store.clone();
        let mut ids = Vec::with_capacity(rows.len());
        let mut messages = Vec::new();
        for (i, row) in rows.iter().enumerate() {
            let cells = row.as_array().map(|a| a.as_slice()).unwrap_or(&[]);
            match self.load_row(model, &cols, cells) {
                Ok(id) => ids.push(id),
                Err((field, message)) => messages.push(json!({
                    "type": "error", "field": field, "message": message,
                    "record": i, "rows": {"from": i, "to": i},
                })),
            }
        }
        if messages.is_empty() {
            return Ok(json!({"ids": ids, "messages": [], "nextrow": 0}));
        }
        *self.store = before;
        // Rolled back: no webhook (on 17/18 Odoo would already have sent the good rows' ones).
        self.touches.clear();
        Ok(json!({"ids": false, "messages": messages, "nextrow": 0}))
    }
}

fn missing_required(f: &FieldDef) -> String {
    format!("Missing required value for the field '{}' ({})", f.string, f.name)
}
