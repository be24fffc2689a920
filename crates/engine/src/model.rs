//! Model specs are data: one row of scout.sync_models per Odoo model (fields, bronze table,
//! order), read by the store.

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

/// The key of a model's checkpoint (and of its lock): `<checkpoint_key>:<model>`.
pub fn checkpoint_id(checkpoint_key: &str, model: &str) -> String {
    format!("{checkpoint_key}:{model}")
}
