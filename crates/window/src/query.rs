//! How a run asks Odoo for records: the search domain of a window and the context, with the
//! company filter (`odoo_sync.company_ids`). Pure: the engine passes the result to the client.

use crate::Window;
use odoo_client::time::format_odoo;
use serde_json::{json, Value};

/// The context (archived records too; the companies of the filter when one is set) and, for
/// models with a company, the company filter (records of those companies and shared ones, as
/// Odoo's multi-company rules do).
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    pub context: Value,
    /// The companies whose records a window selects; None: no filter (or a model without one).
    pub companies: Option<Vec<i64>>,
}

impl Query {
    /// `company_ids`: the filter (empty: none); `model_has_company`: whether the model's
    /// requested fields include company_id (the filter applies only then).
    pub fn new(company_ids: &[i64], model_has_company: bool) -> Query {
        let mut context = json!({"active_test": false});
        if !company_ids.is_empty() {
            context["allowed_company_ids"] = json!(company_ids);
        }
        let companies = (model_has_company && !company_ids.is_empty()).then(|| company_ids.to_vec());
        Query { context, companies }
    }

    fn with_filter(&self, mut terms: Vec<Value>) -> Value {
        if let Some(ids) = &self.companies {
            // Prefix notation: terms are ANDed; the company term is an OR of two.
            terms.insert(0, json!("|"));
            terms.insert(1, json!(["company_id", "=", false]));
            terms.insert(2, json!(["company_id", "in", ids]));
        }
        Value::Array(terms)
    }

    /// write_date in [L, U) and id above the cursor.
    pub fn window(&self, w: &Window) -> Value {
        let mut d = Vec::with_capacity(3);
        if let Some(l) = w.start {
            d.push(json!(["write_date", ">=", format_odoo(l)]));
        }
        // A full window re-reads every record: also those whose write_date is ahead of Odoo's
        // clock (written while it was wrong). Its end still becomes the high-water mark.
        if !w.full {
            d.push(json!(["write_date", "<", format_odoo(w.end)]));
        }
        if w.last_id > 0 {
            d.push(json!(["id", ">", w.last_id]));
        }
        self.with_filter(d)
    }

    /// One slice of a window for parallel fetching: its records with ids in (w.last_id, hi].
    pub fn slice(&self, w: &Window, hi: i64) -> Value {
        let mut d = self.window(w);
        if let Value::Array(terms) = &mut d {
            terms.push(json!(["id", "<=", hi]));
        }
        d
    }

    /// Every record above the cursor, of every company the API user may see: the company filter
    /// narrows what a run reads, never what counts as deleted ("gone from Odoo").
    pub fn all_ids_above(last: i64) -> Value {
        json!([["id", ">", last]])
    }

    /// The context for listing ids: archived records too, and no allowed_company_ids, so that
    /// Odoo's record rules cover all the user's companies.
    pub fn all_companies_context() -> Value {
        json!({"active_test": false})
    }
}

/// Which records a model's windows select, as text kept with the checkpoint: the company filter
/// (for a model with a company) and the user's extra fields. A change means the next run
/// re-reads every record. (Optional fields come and go with Odoo's modules and are named in
/// sync_logs.missing_fields; they do not force a re-read.)
pub fn selection(company_ids: &[i64], has_company: bool, extra_fields: &[String]) -> String {
    let companies = if company_ids.is_empty() || !has_company {
        "all".to_owned()
    } else {
        company_ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
    };
    format!("companies={companies}; extra_fields={}", extra_fields.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_764_633_600; // 2025-12-02 00:00:00
    const T1: i64 = T0 + 3600;

    fn incremental(last_id: i64) -> Window {
        Window { start: Some(T0), end: T1, mark: T1, full: false, last_id }
    }

    #[test]
    fn an_incremental_window_is_write_date_in_l_u_and_id_above_the_cursor() {
        let q = Query::new(&[], true);
        assert_eq!(
            q.window(&incremental(0)),
            json!([["write_date", ">=", "2025-12-02 00:00:00"], ["write_date", "<", "2025-12-02 01:00:00"]])
        );
        assert_eq!(
            q.window(&incremental(42)),
            json!([
                ["write_date", ">=", "2025-12-02 00:00:00"],
                ["write_date", "<", "2025-12-02 01:00:00"],
                ["id", ">", 42]
            ])
        );
        assert_eq!(q.context, json!({"active_test": false}), "archived records too");
    }

    #[test]
    fn a_full_window_has_no_write_date_bound_at_all() {
        let q = Query::new(&[], true);
        let full = Window { start: None, end: T1, mark: T1, full: true, last_id: 0 };
        assert_eq!(q.window(&full), json!([]), "records written while Odoo's clock was ahead too");
        assert_eq!(q.window(&Window { last_id: 7, ..full }), json!([["id", ">", 7]]));
    }

    #[test]
    fn a_first_window_has_an_upper_bound_only() {
        let q = Query::new(&[], false);
        let first = Window { start: None, end: T1, mark: T1, full: false, last_id: 0 };
        assert_eq!(q.window(&first), json!([["write_date", "<", "2025-12-02 01:00:00"]]));
    }

    #[test]
    fn the_company_filter_selects_those_companies_and_shared_records() {
        let q = Query::new(&[1, 3], true);
        assert_eq!(
            q.window(&incremental(5)),
            json!([
                "|",
                ["company_id", "=", false],
                ["company_id", "in", [1, 3]],
                ["write_date", ">=", "2025-12-02 00:00:00"],
                ["write_date", "<", "2025-12-02 01:00:00"],
                ["id", ">", 5]
            ])
        );
        assert_eq!(q.context, json!({"active_test": false, "allowed_company_ids": [1, 3]}));
    }

    #[test]
    fn a_model_without_a_company_is_not_filtered_but_still_reads_in_the_filter_s_companies() {
        let q = Query::new(&[2], false);
        assert_eq!(q.companies, None);
        assert_eq!(q.window(&incremental(0)).as_array().unwrap().len(), 2, "no company term");
        assert_eq!(q.context["allowed_company_ids"], json!([2]));
    }

    #[test]
    fn a_slice_is_the_window_between_two_ids() {
        let q = Query::new(&[1], true);
        let full = Window { start: None, end: T1, mark: T1, full: true, last_id: 99 };
        assert_eq!(
            q.slice(&full, 250),
            json!(["|", ["company_id", "=", false], ["company_id", "in", [1]], ["id", ">", 99], ["id", "<=", 250]])
        );
    }

    #[test]
    fn listing_ids_ignores_the_company_filter() {
        // What counts as deleted is "gone from Odoo", whatever the filter.
        assert_eq!(Query::all_ids_above(10), json!([["id", ">", 10]]));
        assert_eq!(Query::all_companies_context(), json!({"active_test": false}));
    }

    #[test]
    fn the_selection_changes_with_the_filter_and_the_extra_fields_only() {
        let extra = vec!["x_tier".to_string()];
        assert_eq!(selection(&[], true, &[]), "companies=all; extra_fields=");
        assert_eq!(selection(&[1, 2], true, &extra), "companies=1,2; extra_fields=x_tier");
        // A model without a company selects the same records whatever the filter.
        assert_eq!(selection(&[1, 2], false, &[]), selection(&[], false, &[]));
    }
}
