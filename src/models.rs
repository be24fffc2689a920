//! Model specs are data: one row of scout.sync_models per Odoo model (fields, bronze table,
//! order). This module reads them and validates a user-supplied model name against them.

use crate::errors::{spi, SyncError, SyncResult};
use pgrx::prelude::*;

pub use engine::ModelSpec;

use store_sql::SELECT_SPECS;

fn split(s: Option<String>) -> Vec<String> {
    s.unwrap_or_default().split(',').filter(|x| !x.is_empty()).map(str::to_owned).collect()
}

fn query(sql: &str, args: &[pgrx::datum::DatumWithOid]) -> SyncResult<Vec<ModelSpec>> {
    let rows = Spi::connect(|client| -> Result<Vec<_>, pgrx::spi::Error> {
        let mut out = Vec::new();
        for row in client.select(sql, None, args)? {
            out.push((
                row.get::<String>(1)?.unwrap_or_default(),
                row.get::<String>(2)?.unwrap_or_default(),
                split(row.get(3)?),
                split(row.get(4)?),
                split(row.get(5)?),
                row.get::<String>(6)?,
            ));
        }
        Ok(out)
    })
    .map_err(spi)?;
    rows.into_iter()
        .map(|(model, bronze_table, fields, optional_fields, extra_fields, odoo_module)| {
            // The table name is spliced into SQL: accept only what the CHECK constraint allows.
            store_sql::checked_table(&bronze_table).map_err(SyncError::Internal)?;
            Ok(ModelSpec { model, bronze_table, fields, optional_fields, extra_fields, odoo_module })
        })
        .collect()
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
