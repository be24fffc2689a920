//! Checks a page before anything of it is loaded: every record must have an integer id above
//! the cursor, appear once, carry a write_date inside the requested window, and give each
//! field a value of the shape its Odoo type has. A server that breaks this (a buggy proxy, a
//! customised Odoo) would otherwise make the sync loop or skip, or break silver's typed reads.

use crate::error::{SyncError, SyncResult};
use crate::store::Window;
use odoo_client::shape::{scan_page, Shapes};
use odoo_client::time::{format_odoo, parse_odoo};
use serde_json::value::RawValue;

pub struct PageInfo {
    pub len: usize,
    pub max_id: i64,
}

/// Shows a refused value, shortened: it goes into an error message.
fn shown(v: &RawValue) -> String {
    let t = v.get();
    if t.chars().count() > 60 {
        format!("{}...", t.chars().take(60).collect::<String>())
    } else {
        t.to_owned()
    }
}

pub fn validate(model: &str, page: &str, window: &Window, shapes: &Shapes) -> SyncResult<PageInfo> {
    let bad = |detail: String| SyncError::BadData { model: model.to_owned(), detail };
    let heads = scan_page(page, shapes).map_err(|e| bad(format!("the page is not a list of records: {e}")))?;
    let mut max_id = window.last_id;
    let mut prev = window.last_id;
    for h in &heads {
        let id_text = h.id.map(|r| r.get()).unwrap_or("(missing)");
        let id: i64 = id_text.parse().map_err(|_| bad(format!("a record has id {id_text}, not an integer")))?;
        // Ordered by id asc and above the cursor: anything else is a duplicate or out of domain.
        if id <= prev {
            return Err(bad(format!(
                "record id {id} is not above the previous id {prev} (duplicate, unordered or outside the requested domain)"
            )));
        }
        prev = id;
        max_id = id;
        let wd_text = h.write_date.map(|r| r.get()).unwrap_or("(missing)");
        let wd = serde_json::from_str::<String>(wd_text)
            .ok()
            .and_then(|s| parse_odoo(&s))
            .ok_or_else(|| bad(format!("record {id} has write_date {wd_text}, not an Odoo datetime")))?;
        let below = window.start.is_some_and(|l| wd < l);
        // A full window has no upper bound (Query::window).
        let above = !window.full && wd >= window.end;
        if below || above {
            return Err(bad(format!(
                "record {id} has write_date {} outside the requested window [{}, {})",
                format_odoo(wd),
                window.start.map(format_odoo).unwrap_or_else(|| "-infinity".into()),
                format_odoo(window.end)
            )));
        }
        if let Some((field, value)) = &h.nul {
            return Err(bad(format!(
                "record {id} has {field} = {}, which holds a NUL character (\\u0000) that PostgreSQL cannot store; \
                 fix the value in Odoo",
                shown(value)
            )));
        }
        if let Some((field, shape, value)) = &h.misshapen {
            return Err(bad(format!(
                "record {id} has {field} = {}, but Odoo's values of that field are {}",
                shown(value),
                shape.describe()
            )));
        }
    }
    Ok(PageInfo { len: heads.len(), max_id })
}
