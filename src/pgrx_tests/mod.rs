//! Tests inside the extension (`cargo pgrx test`): the SQL layer and SPI without Odoo, HTTP or
//! a simulator. Each test runs in a transaction of a fresh PostgreSQL that pgrx starts, with the
//! extension created, and is rolled back after. What they cover: the JSON helpers, each
//! data-quality rule on hand-written bronze rows, silver derived from one order with its lines
//! and payments, the write-back allow-list and its value shapes, and the status view. The
//! end-to-end suite (tests/) covers the same through real syncs; these say which SQL broke, in
//! seconds.

#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;
    use serde_json::{json, Value};

    /// Inserts bronze rows of `model` as a sync would (payload as Odoo sent it) and derives
    /// silver from them; returns how many of them silver quarantined.
    fn load(model: &str, records: &[Value]) -> i64 {
        let table: String =
            Spi::get_one_with_args("SELECT bronze_table FROM scout.sync_models WHERE model = $1", &[model.into()])
                .unwrap()
                .expect("a synced model");
        for r in records {
            Spi::run_with_args(
                &format!(
                    "INSERT INTO scout.{table} (id, write_date, payload, run_id) \
                     VALUES (($1::jsonb->>'id')::bigint, scout.odoo_datetime($1::jsonb->'write_date'), $1::jsonb, 1) \
                     ON CONFLICT (id) DO UPDATE SET payload = EXCLUDED.payload, write_date = EXCLUDED.write_date"
                ),
                &[pgrx::JsonB(r.clone()).into()],
            )
            .unwrap();
        }
        let ids: Vec<i64> = records.iter().map(|r| r["id"].as_i64().unwrap()).collect();
        Spi::get_one_with_args::<i64>("SELECT scout.silver_apply($1, $2, 1)", &[model.into(), ids.into()])
            .unwrap()
            .unwrap_or(0)
    }

    const AT: &str = "2026-11-01 10:00:00";

    fn company() -> Value {
        json!({"id": 1, "name": "Sari-Sari Co", "currency_id": [1, "PHP"], "write_date": AT, "create_date": AT})
    }

    fn category() -> Value {
        json!({"id": 3, "name": "Chips", "complete_name": "All / Snacks / Chips", "parent_id": false,
               "write_date": AT, "create_date": AT})
    }

    fn product() -> Value {
        json!({"id": 10, "name": "Piattos", "display_name": "Piattos", "default_code": false, "barcode": false,
               "categ_id": [3, "All / Snacks / Chips"], "list_price": 10.0, "lst_price": 10.0, "standard_price": 6.0,
               "active": true, "type": "consu", "taxes_id": [], "company_id": false, "product_tmpl_id": [10, "Piattos"],
               "write_date": AT, "create_date": AT})
    }

    fn store() -> Value {
        json!({"id": 2, "name": "Store Makati", "company_id": [1, "Sari-Sari Co"], "currency_id": [1, "PHP"],
               "active": true, "write_date": AT, "create_date": AT})
    }

    fn cash() -> Value {
        json!({"id": 5, "name": "Cash", "type": "cash", "is_cash_count": true, "company_id": [1, "Sari-Sari Co"],
               "active": true, "write_date": AT, "create_date": AT})
    }

    fn order(id: i64, total: f64, lines: &[i64], payments: &[i64]) -> Value {
        json!({"id": id, "name": format!("Makati/{id:04}"), "pos_reference": format!("Order {id}"), "date_order": AT,
               "partner_id": false, "session_id": [7, "S/0007"], "config_id": [2, "Store Makati"],
               "company_id": [1, "Sari-Sari Co"], "currency_id": [1, "PHP"], "user_id": [2, "Admin"],
               "amount_total": total, "amount_tax": 0.0, "amount_paid": total, "amount_return": 0.0, "state": "paid",
               "lines": lines, "payment_ids": payments, "write_date": AT, "create_date": AT})
    }

    fn line(id: i64, order: i64, qty: f64, unit: f64, subtotal: f64) -> Value {
        json!({"id": id, "order_id": [order, format!("Makati/{order:04}")], "product_id": [10, "Piattos"],
               "full_product_name": "Piattos", "qty": qty, "price_unit": unit, "discount": 0.0,
               "price_subtotal": subtotal, "price_subtotal_incl": subtotal, "tax_ids": [],
               "company_id": [1, "Sari-Sari Co"], "write_date": AT, "create_date": AT})
    }

    fn payment(id: i64, order: i64, amount: f64) -> Value {
        json!({"id": id, "pos_order_id": [order, format!("Makati/{order:04}")], "payment_method_id": [5, "Cash"],
               "amount": amount, "payment_date": AT, "session_id": [7, "S/0007"], "is_change": false,
               "company_id": [1, "Sari-Sari Co"], "write_date": AT, "create_date": AT})
    }

    /// The catalog every order needs: company, category, product, store, payment method.
    fn catalog() {
        for (model, r) in [
            ("res.company", company()),
            ("product.category", category()),
            ("product.product", product()),
            ("pos.config", store()),
            ("pos.payment.method", cash()),
        ] {
            assert_eq!(load(model, &[r]), 0, "{model} passes the rules");
        }
    }

    /// The rules a record of `model` with this id fails now.
    fn rules_of(model: &str, id: i64) -> Vec<String> {
        Spi::get_one_with_args::<Vec<String>>(
            "SELECT coalesce(array_agg(rule ORDER BY rule), '{}') FROM scout.silver_rejects WHERE model = $1 AND source_id = $2",
            &[model.into(), id.into()],
        )
        .unwrap()
        .unwrap_or_default()
    }

    #[pg_test]
    fn odoo_json_helpers_read_odoos_values() {
        let one = |sql: &str| Spi::get_one::<String>(sql).unwrap();
        assert_eq!(
            one("SELECT scout.odoo_datetime('\"2026-11-01 10:00:00\"')::text").as_deref(),
            Some("2026-11-01 10:00:00+00")
        );
        assert_eq!(one("SELECT scout.odoo_datetime('false')::text"), None, "false is NULL");
        assert_eq!(one("SELECT scout.odoo_text('\"Piattos\"')").as_deref(), Some("Piattos"));
        assert_eq!(one("SELECT scout.odoo_text('false')"), None);
        assert_eq!(one("SELECT scout.odoo_m2o('[7, \"S/0007\"]')::text").as_deref(), Some("7"));
        assert_eq!(one("SELECT scout.odoo_m2o('false')::text"), None);
        assert_eq!(one("SELECT scout.odoo_m2o_name('[7, \"S/0007\"]')").as_deref(), Some("S/0007"));
        assert_eq!(one("SELECT scout.odoo_num('12.50')::text").as_deref(), Some("12.50"), "money stays exact");
    }

    #[pg_test]
    fn one_order_with_its_lines_and_payments_becomes_a_transaction_and_items() {
        catalog();
        assert_eq!(load("pos.order", &[order(100, 30.0, &[1000, 1001], &[500])]), 0);
        assert_eq!(load("pos.order.line", &[line(1000, 100, 2.0, 10.0, 20.0), line(1001, 100, 1.0, 10.0, 10.0)]), 0);
        assert_eq!(load("pos.payment", &[payment(500, 100, 30.0)]), 0);
        let row = Spi::get_three::<String, String, String>(
            "SELECT status || '/' || payment_method || '/' || line_count || '/' || quantity, \
                    gross_amount::text, store_id::text FROM scout.transactions WHERE source_id = 100",
        )
        .unwrap();
        // Money and quantities are numeric exactly as Odoo sent them (30.0 stays 30.0).
        assert_eq!(row, (Some("completed/cash/2/3.0".into()), Some("30.0".into()), Some("2".into())), "{row:?}");
        let items = Spi::get_one::<String>(
            "SELECT string_agg(source_id || ':' || quantity || 'x' || unit_price || '=' || line_total || ' ' || \
                    product_category || ' ' || category_path, ', ' ORDER BY source_id) FROM scout.transaction_items",
        )
        .unwrap();
        assert_eq!(
            items.as_deref(),
            Some("1000:2.0x10.0=20.0 Chips All / Snacks / Chips, 1001:1.0x10.0=10.0 Chips All / Snacks / Chips")
        );
        assert!(rules_of("pos.order", 100).is_empty());
    }

    #[pg_test]
    fn a_line_whose_total_is_not_qty_times_price_is_quarantined_and_leaves_when_fixed() {
        catalog();
        load("pos.order", &[order(101, 25.0, &[1010], &[])]);
        assert_eq!(load("pos.order.line", &[line(1010, 101, 2.0, 10.0, 25.0)]), 1);
        assert_eq!(rules_of("pos.order.line", 1010), vec!["line_total_mismatch"]);
        assert_eq!(
            Spi::get_one::<i64>("SELECT count(*) FROM scout.transaction_items WHERE source_id = 1010").unwrap(),
            Some(0)
        );
        // Odoo fixes it: the next load takes it out of quarantine.
        assert_eq!(load("pos.order.line", &[line(1010, 101, 2.0, 10.0, 20.0)]), 0);
        assert!(rules_of("pos.order.line", 1010).is_empty());
    }

    #[pg_test]
    fn a_negative_quantity_on_an_order_that_is_no_refund_is_quarantined() {
        catalog();
        load("pos.order", &[order(102, 10.0, &[1020], &[])]);
        load("pos.order.line", &[line(1020, 102, -1.0, 10.0, -10.0)]);
        assert_eq!(rules_of("pos.order.line", 1020), vec!["negative_qty_not_refund"]);
    }

    #[pg_test]
    fn a_completed_order_without_lines_or_whose_payments_do_not_add_up_is_quarantined() {
        catalog();
        // No lines, and no payments (all of its none synced) that add up to its total either.
        load("pos.order", &[order(103, 10.0, &[], &[])]);
        assert_eq!(rules_of("pos.order", 103), vec!["order_without_lines", "payments_mismatch"]);
        load("pos.order", &[order(104, 10.0, &[1040], &[540])]);
        load("pos.order.line", &[line(1040, 104, 1.0, 10.0, 10.0)]);
        load("pos.payment", &[payment(540, 104, 7.0)]);
        assert_eq!(rules_of("pos.order", 104), vec!["payments_mismatch"]);
    }

    #[pg_test]
    fn records_that_arrive_before_what_they_name_wait_and_are_released_by_its_arrival() {
        // A line before its order, a product before its category, an order before its store.
        load("res.company", &[company()]);
        load("pos.order.line", &[line(1050, 105, 1.0, 10.0, 10.0)]);
        assert!(rules_of("pos.order.line", 1050).contains(&"missing_order".to_string()));
        load("product.product", &[product()]);
        assert_eq!(rules_of("product.product", 10), vec!["missing_category"]);
        load("pos.order", &[order(105, 10.0, &[1050], &[550])]);
        assert!(rules_of("pos.order", 105).contains(&"missing_store".to_string()));
        load("pos.payment", &[payment(550, 105, 10.0)]);
        assert_eq!(rules_of("pos.payment", 550), vec!["missing_payment_method"]);
        // What they wait for arrives: each is released.
        load("product.category", &[category()]);
        load("pos.config", &[store()]);
        load("pos.payment.method", &[cash()]);
        for (model, id) in [("product.product", 10), ("pos.order", 105), ("pos.payment", 550), ("pos.order.line", 1050)]
        {
            assert!(rules_of(model, id).is_empty(), "{model} {id}: {:?}", rules_of(model, id));
        }
    }

    #[pg_test]
    fn the_outbox_takes_allowed_fields_in_their_shapes_and_refuses_the_rest() {
        let ok = |sql: &str| Spi::run(sql).is_ok();
        assert!(ok("INSERT INTO scout.odoo_outbox (model, external_key, \"values\") \
                    VALUES ('res.partner.category', 'vip_1', '{\"name\": \"VIP\"}')"));
        assert!(ok("INSERT INTO scout.odoo_outbox (model, odoo_id, \"values\") \
                    VALUES ('res.partner', 7, '{\"category_id\": {\"add\": [\"vip_1\", 3]}}')"));
        assert_eq!(
            Spi::get_one::<String>("SELECT string_agg(state, ',') FROM scout.odoo_outbox").unwrap().as_deref(),
            Some("pending,pending")
        );
        // A changed failed row is pending again, with its attempts reset.
        Spi::run("UPDATE scout.odoo_outbox SET state = 'failed', attempts = 3 WHERE external_key = 'vip_1'").unwrap();
        Spi::run("UPDATE scout.odoo_outbox SET \"values\" = '{\"name\": \"VIP 2\"}' WHERE external_key = 'vip_1'")
            .unwrap();
        assert_eq!(
            Spi::get_one::<String>("SELECT state || attempts FROM scout.odoo_outbox WHERE external_key = 'vip_1'")
                .unwrap()
                .as_deref(),
            Some("pending0")
        );
    }

    #[pg_test(error = "odoo_sync: writing res.partner.name back to Odoo is not allowed")]
    fn a_field_outside_the_allow_list_is_refused() {
        Spi::run(
            "INSERT INTO scout.odoo_outbox (model, odoo_id, \"values\") VALUES ('res.partner', 7, '{\"name\": \"x\"}')",
        )
        .unwrap();
    }

    #[pg_test(
        error = "odoo_sync: res.partner.category_id is given a list; a many2many change is {\"add\": [...], \"remove\": [...]}"
    )]
    fn a_whole_set_for_a_many2many_is_refused() {
        Spi::run("INSERT INTO scout.odoo_outbox (model, odoo_id, \"values\") VALUES ('res.partner', 7, '{\"category_id\": [1]}')")
            .unwrap();
    }

    #[pg_test]
    fn tag_keys_keep_names_apart_and_accept_any_name() {
        let key = |t: &str| Spi::get_one_with_args::<String>("SELECT scout.tag_key($1)", &[t.into()]).unwrap();
        let keys: Vec<String> = ["Promo A", "promo-a", "PROMO_A!", "顧客"].iter().map(|t| key(t).unwrap()).collect();
        let distinct: std::collections::BTreeSet<&String> = keys.iter().collect();
        assert_eq!(distinct.len(), 4, "{keys:?}");
        assert!(keys[0].starts_with("promo_a_") && keys[3].starts_with("tag_"), "{keys:?}");
        assert_eq!(key("  Promo A "), key("Promo A"), "trimmed");
        assert_eq!(key("   "), None);
    }

    #[pg_test]
    fn the_status_view_shows_every_enabled_model_and_a_failure_as_unhealthy() {
        let models = Spi::get_one::<i64>("SELECT count(*) FROM scout.sync_status").unwrap();
        let enabled = Spi::get_one::<i64>("SELECT count(*) FROM scout.sync_models WHERE enabled").unwrap();
        assert_eq!(models, enabled);
        Spi::run(
            "INSERT INTO scout.sync_checkpoints (id, model, last_sync_at, status, error_message) \
             VALUES ('odoo_sync_checkpoint:pos.order', 'pos.order', '-infinity', 'failed', 'Odoo unreachable')",
        )
        .unwrap();
        let healthy = Spi::get_one::<bool>("SELECT healthy FROM scout.sync_status WHERE model = 'pos.order'").unwrap();
        assert_eq!(healthy, Some(false));
    }
}
