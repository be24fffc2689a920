//! Records that pointed at records Odoo deleted. When a partner is deleted, Odoo's database
//! sets `pos.order.partner_id` to NULL (a foreign key ON DELETE SET NULL) without touching the
//! orders' `write_date`; when an OCA brand goes, products' `product_brand_id` does the same. No
//! incremental run and no reconciliation can see that change, so whenever a run or a
//! reconciliation soft-deletes records of a model, the records of every synced model whose
//! relational fields (Odoo's `fields_get` relations: many2one, many2many, one2many) name them
//! in bronze are read again by id, through the normal page path (page checks, bronze upsert,
//! silver), so that bronze and silver drop the dangling reference.

use crate::error::{SyncError, SyncResult};
use crate::host::Host;
use crate::loader::{Loader, Target};
use crate::model::ModelSpec;
use crate::page;
use crate::runs::{model_checkpoint, not_in_this_odoo, requested_fields};
use crate::session::OdooSession;
use crate::settings::Settings;
use crate::store::{LockWait, Store, Window};
use odoo_client::shape::Shapes;
use odoo_client::Client;
use serde_json::json;
use std::time::Instant;
use sync_window::query::Query;

/// Relational field types whose values name records of another model.
const RELATIONAL: [&str; 3] = ["many2one", "many2many", "one2many"];

/// Re-reads the bronze records that name any of `deleted` (records of `deleted_model` just
/// soft-deleted) in a relational field. Returns notes for the run's message: how many records
/// were re-read, and those that could not be because another session holds their model.
#[allow(clippy::too_many_arguments)]
pub fn reread<S: Store>(
    store: &mut S,
    host: &dyn Host,
    odoo: &mut OdooSession,
    s: &Settings,
    deleted_model: &str,
    deleted: &[i64],
    run_id: i64,
    wait: LockWait,
) -> SyncResult<Vec<String>> {
    let mut notes = Vec::new();
    if deleted.is_empty() {
        return Ok(notes);
    }
    let started = Instant::now();
    for spec in store.enabled_models()? {
        if not_in_this_odoo(&spec, odoo)?.is_some() {
            continue;
        }
        let (fields, _, _) = requested_fields(&spec, odoo, started)?;
        let pointing: Vec<String> = {
            let known = odoo.fields_of(&spec.model)?;
            fields
                .iter()
                .filter(|f| {
                    known.get(*f).is_some_and(|i| {
                        RELATIONAL.contains(&i.kind.as_str()) && i.relation.as_deref() == Some(deleted_model)
                    })
                })
                .cloned()
                .collect()
        };
        let ids = store.bronze_naming(&spec, &pointing, deleted)?;
        if ids.is_empty() {
            continue;
        }
        // The referring model's own lock (held already when it is the deleted model itself):
        // never two sessions writing one model's bronze at once.
        if !store.try_lock_model(&model_checkpoint(s, &spec.model))? {
            notes.push(format!(
                "{} records of {} name deleted {deleted_model} records but {} is being synced by another \
                 session: its next full sync drops the reference",
                ids.len(),
                spec.model,
                spec.model
            ));
            continue;
        }
        let shapes = odoo.shapes(&spec.model, &fields);
        let query = Query::new(&s.company_ids, fields.iter().any(|f| f == "company_id"));
        let by_ids =
            ByIds { spec: &spec, fields: &fields, shapes: &shapes, query: &query, batch: s.batch_size.max(1) as usize };
        let read = by_ids.reread(store, host, odoo.client(&spec.model)?, &ids, run_id, wait)?;
        notes.push(format!(
            "{} records of {} named deleted {deleted_model} records: {read} read again (Odoo no longer has the rest)",
            ids.len(),
            spec.model
        ));
    }
    Ok(notes)
}

/// Reads records of one model again by id, through the normal page path: reconciliation's
/// repairs and the re-reads above.
pub(super) struct ByIds<'a> {
    pub spec: &'a ModelSpec,
    pub fields: &'a [String],
    pub shapes: &'a Shapes,
    pub query: &'a Query,
    pub batch: usize,
}

impl ByIds<'_> {
    /// Reads `ids` from Odoo again and loads them (bronze and silver); returns how many Odoo
    /// returned (those it no longer has are left to the model's own delete pass).
    #[allow(clippy::too_many_arguments)]
    pub fn reread<S: Store>(
        &self,
        store: &mut S,
        host: &dyn Host,
        client: &mut Client,
        ids: &[i64],
        run_id: i64,
        wait: LockWait,
    ) -> SyncResult<i64> {
        let model = self.spec.model.as_str();
        let full = Window { start: None, end: i64::MAX, mark: i64::MAX, full: true, last_id: 0 };
        let mut loader = Loader::new(self.spec, Target::BronzeAndSilver { run_id, wait });
        let mut read = 0;
        for chunk in ids.chunks(self.batch) {
            host.check_interrupts()?;
            let raw = client
                .search_read_raw(
                    model,
                    &json!([["id", "in", chunk]]),
                    self.fields,
                    "id asc",
                    self.batch as u32,
                    &self.query.context,
                )
                .map_err(|e| SyncError::odoo(model, e))?;
            let info = page::validate(model, &raw, &full, self.shapes)?;
            read += info.len as i64;
            if info.len > 0 {
                loader.load(store, &raw)?;
            }
        }
        Ok(read)
    }
}
