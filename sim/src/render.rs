//! Renders records the way Odoo's `read()` does, straight into a reused `String`:
//! `id` first, then the asked fields in order; empty values are `false`, many2one is
//! `[id, "display name"]` (looked up now, in the target table), x2many an id list, selection
//! its key, datetimes `"YYYY-MM-DD HH:MM:SS"` truncated to the second.

use crate::clock::write_dt;
use crate::json::{write_float, write_int, write_str, write_str_body};
use crate::schema::{Schema, Storage};
use crate::store::{Column, Store, Table, NO_DT, NO_SEL};

/// The last value rendered for one field and its text: consecutive rows often repeat a
/// many2one (the lines of one order) or a timestamp (rows of one transaction), and copying the
/// text beats another lookup and formatting.
#[derive(Default, Clone)]
pub struct FieldCache {
    key: i64,
    text: String,
}

impl FieldCache {
    pub fn new() -> FieldCache {
        FieldCache { key: i64::MIN, text: String::new() }
    }
}

pub struct Renderer<'a> {
    pub schema: &'a Schema,
    pub store: &'a Store,
    pub model: usize,
    /// `load='_classic_read'` (the default): many2one as a pair; otherwise the bare id.
    pub classic: bool,
}

impl<'a> Renderer<'a> {
    /// `{"id": 1, "f": ...}` for one row; `fields` are field indexes without `id`.
    pub fn record(&self, out: &mut String, t: &Table, row: usize, fields: &[usize], cache: &mut [FieldCache]) {
        let def = self.schema.get(self.model);
        out.push_str("{\"id\": ");
        write_int(out, t.ids[row] as i64);
        for (k, &fi) in fields.iter().enumerate() {
            let f = &def.fields[fi];
            out.push_str(", ");
            out.push_str(&f.json_key);
            match f.storage {
                Storage::Id => write_int(out, t.ids[row] as i64),
                Storage::DisplayName => {
                    out.push('"');
                    self.store.display_row_with(self.schema, self.model, row, &mut |p| write_str_body(out, p));
                    out.push('"');
                }
                Storage::Col(c) | Storage::Alias(c) => {
                    let key = match &t.cols[c] {
                        Column::M2o(v) => v[row] as i64,
                        Column::Dt(v) if v[row] != NO_DT => v[row].div_euclid(1_000_000),
                        _ => i64::MIN,
                    };
                    match cache.get_mut(k) {
                        Some(fc) if key != i64::MIN => {
                            if fc.key == key {
                                out.push_str(&fc.text);
                            } else {
                                let start = out.len();
                                self.value(out, t, c, row, f.rel_model, &f.selection);
                                fc.key = key;
                                fc.text.clear();
                                fc.text.push_str(&out[start..]);
                            }
                        }
                        _ => self.value(out, t, c, row, f.rel_model, &f.selection),
                    }
                }
            }
        }
        out.push('}');
    }

    fn value(&self, out: &mut String, t: &Table, c: usize, row: usize, rel: Option<usize>, sel: &[(&str, &str)]) {
        match &t.cols[c] {
            Column::Int(v) => write_int(out, v[row]),
            Column::Float(v) => write_float(out, v[row]),
            Column::Bool(v) => out.push_str(if v[row] { "true" } else { "false" }),
            Column::Str(v) => match &v[row] {
                Some(s) => write_str(out, s),
                None => out.push_str("false"),
            },
            Column::Sel(v) => match sel.get(v[row] as usize) {
                Some((k, _)) if v[row] != NO_SEL => write_str(out, k),
                _ => out.push_str("false"),
            },
            Column::M2o(v) => self.m2o(out, v[row], rel),
            Column::Ids(v) => {
                out.push('[');
                for (i, id) in v[row].iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_int(out, *id as i64);
                }
                out.push(']');
            }
            Column::Dt(v) => {
                if v[row] == NO_DT {
                    out.push_str("false");
                } else {
                    out.push('"');
                    write_dt(out, v[row]);
                    out.push('"');
                }
            }
        }
    }

    pub fn m2o(&self, out: &mut String, id: u32, rel: Option<usize>) {
        if id == 0 {
            out.push_str("false");
            return;
        }
        if !self.classic {
            write_int(out, id as i64);
            return;
        }
        out.push('[');
        write_int(out, id as i64);
        out.push_str(", \"");
        if let Some(rel) = rel {
            self.store.display_name_with(self.schema, rel, id, &mut |p| write_str_body(out, p));
        }
        out.push_str("\"]");
    }
}
