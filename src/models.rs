//! Model specs are data: one row of scout.sync_models per Odoo model (fields, bronze table,
//! order). This module reads them and validates a user-supplied model name against them.

use crate::errors::{SyncError, SyncResult};
use pgrx::prelude::*;

#[derive(Clone, Debug)]
pub struct ModelSpec {
    pub model: String,
    pub bronze_table: String,
    pub fields: Vec<String>,
    /// Fields requested only if Odoo has them (OCA modules, well-known custom fields).
    pub optional_fields: Vec<String>,
    /// The user's own custom fields: requested, and an error if Odoo lacks them.
    pub extra_fields: Vec<String>,
    /// The Odoo module providing the model when only some databases have it (product.brand:
    /// OCA product_brand); a run on an Odoo without it has nothing to sync. None: every Odoo
    /// has the model.
    pub odoo_module: Option<String>,
}

const SELECT_SPECS: &str = "SELECT model, bronze_table, array_to_string(fields, ','), \
     array_to_string(optional_fields, ','), array_to_string(extra_fields, ','), odoo_module \
     FROM scout.sync_models";

fn split(s: Option<String>) -> Vec<String> {
    s.unwrap_or_default().split(',').filter(|x| !x.is_empty()).map(str::to_owned).collect()
}

fn query(sql: &str, args: &[pgrx::datum::DatumWithOid]) -> SyncResult<Vec<ModelSpec>> {
    Spi::connect(|client| {
        let rows = client.select(sql, None, args)?;
        let mut out = Vec::new();
        for row in rows {
            let bronze_table: String = row.get(2)?.unwrap_or_default();
            // The table name is spliced into SQL: accept only what the CHECK constraint allows.
            if !bronze_table.starts_with("bronze_")
                || !bronze_table.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                return Err(SyncError::Internal(format!("bad bronze table name {bronze_table:?}")));
            }
            out.push(ModelSpec {
                model: row.get(1)?.unwrap_or_default(),
                bronze_table,
                fields: split(row.get(3)?),
                optional_fields: split(row.get(4)?),
                extra_fields: split(row.get(5)?),
                odoo_module: row.get(6)?,
            });
        }
        Ok(out)
    })
}

fn known_models() -> SyncResult<Vec<String>> {
    Ok(query(&format!("{SELECT_SPECS} ORDER BY sync_order"), &[])?.into_iter().map(|s| s.model).collect())
}

/// The spec of one model, or a clear error listing the models that exist.
pub fn find(model: &str) -> SyncResult<ModelSpec> {
    let found = query(&format!("{SELECT_SPECS} WHERE model = $1"), &[model.into()])?;
    match found.into_iter().next() {
        Some(spec) => Ok(spec),
        None => Err(SyncError::UnknownModel { name: model.to_owned(), known: known_models()? }),
    }
}

/// Every enabled model, in dependency order.
pub fn enabled() -> SyncResult<Vec<ModelSpec>> {
    query(&format!("{SELECT_SPECS} WHERE enabled ORDER BY sync_order"), &[])
}
