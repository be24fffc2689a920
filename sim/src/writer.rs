//! Low-level record changes that keep the store consistent: one2many id lists follow their
//! children's many2one, and deleting a parent deletes its one2many children (POS orders
//! cascade to lines and payments). Callers stamp write_date themselves, because a late commit
//! must carry its transaction's start time, not the time it is applied.

use crate::schema::Schema;
use crate::store::{Row, Store, Val};
use std::sync::Arc;

#[derive(Clone, Debug)]
pub enum Op {
    Insert { model: usize, id: u32, row: Row },
    Update { model: usize, id: u32, changes: Vec<(usize, Val)> },
    Delete { model: usize, id: u32 },
}

pub struct Writer<'a> {
    pub schema: &'a Schema,
    pub store: &'a mut Store,
}

fn list_with(ids: &[u32], add: Option<u32>, remove: Option<u32>) -> Arc<[u32]> {
    let mut v: Vec<u32> = ids.iter().copied().filter(|&i| Some(i) != remove).collect();
    if let Some(a) = add {
        if let Err(pos) = v.binary_search(&a) {
            v.insert(pos, a);
        }
    }
    Arc::from(v)
}

impl<'a> Writer<'a> {
    pub fn apply(&mut self, op: Op) {
        match op {
            Op::Insert { model, id, row } => self.insert(model, id, row),
            Op::Update { model, id, changes } => self.update(model, id, changes),
            Op::Delete { model, id } => self.delete(model, id),
        }
    }

    fn relink(&mut self, model: usize, id: u32, old: &[u32], new: &[u32]) {
        for (k, inv) in self.schema.inverses[model].iter().enumerate() {
            let (o, n) = (old.get(k).copied().unwrap_or(0), new.get(k).copied().unwrap_or(0));
            if o == n {
                continue;
            }
            let pt = &mut self.store.tables[inv.parent_model];
            if o != 0 {
                if let Some(r) = pt.row_of(o) {
                    let l = list_with(pt.ids_at(inv.parent_col, r), None, Some(id));
                    pt.set(r, inv.parent_col, Val::Ids(l));
                }
            }
            if n != 0 {
                if let Some(r) = pt.row_of(n) {
                    let l = list_with(pt.ids_at(inv.parent_col, r), Some(id), None);
                    pt.set(r, inv.parent_col, Val::Ids(l));
                }
            }
        }
    }

    fn parents_of(&self, model: usize, id: u32) -> Vec<u32> {
        let t = &self.store.tables[model];
        match t.row_of(id) {
            Some(r) => self.schema.inverses[model].iter().map(|inv| t.m2o_at(inv.child_col, r)).collect(),
            None => vec![0; self.schema.inverses[model].len()],
        }
    }

    pub fn insert(&mut self, model: usize, id: u32, row: Row) {
        let new: Vec<u32> = self.schema.inverses[model].iter().map(|inv| row[inv.child_col].as_id()).collect();
        let old = self.parents_of(model, id);
        self.store.tables[model].upsert(id, row);
        self.relink(model, id, &old, &new);
    }

    pub fn update(&mut self, model: usize, id: u32, changes: Vec<(usize, Val)>) {
        let old = self.parents_of(model, id);
        let t = &mut self.store.tables[model];
        let Some(r) = t.row_of(id) else { return };
        for (c, v) in changes {
            t.set(r, c, v);
        }
        let new = self.parents_of(model, id);
        self.relink(model, id, &old, &new);
    }

    pub fn delete(&mut self, model: usize, id: u32) {
        let def = self.schema.get(model);
        let Some(r) = self.store.tables[model].row_of(id) else { return };
        // Cascade to one2many children first (ondelete='cascade' on POS lines and payments).
        let mut children: Vec<(usize, Vec<u32>)> = Vec::new();
        for f in &def.fields {
            if let (crate::schema::FType::One2many, Some(child), Some(c)) = (f.ftype, f.rel_model, f.col()) {
                children.push((child, self.store.tables[model].ids_at(c, r).to_vec()));
            }
        }
        for (child, ids) in children {
            for cid in ids {
                self.delete(child, cid);
            }
        }
        let old = self.parents_of(model, id);
        let none = vec![0; old.len()];
        self.relink(model, id, &old, &none);
        self.store.tables[model].remove(id);
    }
}
