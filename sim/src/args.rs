//! Arguments of API calls, read as Odoo reads them. Shared by the ORM (orm.rs), the writes
//! (api_write.rs) and both protocols, which is why it is a module of its own.

use crate::errors::{OResult, OdooError};
use crate::json::py_repr;
use serde_json::Value;

/// Record ids as Odoo's `browse()` takes them: an int or a list of ints.
pub fn parse_ids(v: &Value) -> OResult<Vec<u32>> {
    let one = |x: &Value| -> OResult<u32> {
        x.as_u64()
            .filter(|&i| i <= u32::MAX as u64)
            .map(|i| i as u32)
            .ok_or_else(|| OdooError::value(format!("Invalid id {} in browse", py_repr(x))))
    };
    match v {
        Value::Null | Value::Bool(false) => Ok(Vec::new()),
        Value::Array(a) => a.iter().map(one).collect(),
        other => Ok(vec![one(other)?]),
    }
}
