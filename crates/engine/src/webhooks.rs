//! The Automation Rules that make Odoo (17 or later, module base_automation) post a webhook when
//! a record of a synced model is created, updated or deleted: loaded into Odoo by external id
//! (module odoo_sync), so that installing twice leaves one set. The hosts resolve the receiving
//! URL (the extension's listener, the runner's) and redact it; this module only talks to Odoo.
//! The rules select only `id` and `write_date`, the least Odoo can read per record, since Odoo
//! 17 and 18 post them inside the writing transaction.

use crate::error::{SyncError, SyncResult};
use crate::model::ModelSpec;
use crate::session::OdooSession;
use serde_json::{json, Value};

/// The triggers installed per model: create and update, and delete.
const TRIGGERS: [(&str, &str); 2] = [("on_create_or_write", "created or updated"), ("on_unlink", "deleted")];

/// What the webhook carries of the record: the least Odoo can read.
const WEBHOOK_FIELDS: [&str; 2] = ["id", "write_date"];

/// The external id (module odoo_sync) of a rule or its action.
fn external_id(kind: &str, model: &str, trigger: &str) -> String {
    format!("odoo_sync.webhook_{kind}_{}_{trigger}", model.replace('.', "_"))
}

/// What odoo_install_webhooks did, one row per rule.
pub struct Installed {
    pub model: String,
    pub trigger: String,
    pub rule_id: i64,
    pub action_id: i64,
}

/// Creates (or, found again by external id, updates) one Automation Rule per model of `specs`
/// that this Odoo has and per trigger, each with one "Send Webhook Notification" action posting
/// to `url`.
pub fn install_rules(odoo: &mut OdooSession, specs: &[ModelSpec], url: &str) -> SyncResult<Vec<Installed>> {
    check_webhooks_possible(odoo)?;
    let mut wanted = Vec::new();
    for spec in specs {
        if odoo.has_model(&spec.model)? {
            wanted.push(spec.model.clone());
        }
    }
    let client = odoo.client("base.automation")?;
    let model_ids = ids_by(client, "ir.model", json!([["model", "in", wanted]]), &["model"])?;
    let field_ids = field_ids(client, &wanted)?;
    let mut rules = Vec::new();
    let mut actions = Vec::new();
    for model in &wanted {
        let model_id = lookup(&model_ids, model, "ir.model")?;
        let fields = WEBHOOK_FIELDS
            .iter()
            .map(|f| lookup(&field_ids, &format!("{model}.{f}"), "ir.model.fields").map(|id| id.to_string()))
            .collect::<SyncResult<Vec<_>>>()?
            .join(",");
        for (trigger, what) in TRIGGERS {
            let name = format!("odoo_sync: {model} {what}");
            rules.push(vec![
                external_id("rule", model, trigger),
                name.clone(),
                model_id.to_string(),
                trigger.to_owned(),
                "True".to_owned(),
            ]);
            actions.push(vec![
                external_id("action", model, trigger),
                name,
                model_id.to_string(),
                "webhook".to_owned(),
                url.to_owned(),
                fields.clone(),
                external_id("rule", model, trigger),
                "base_automation".to_owned(),
            ]);
        }
    }
    let rule_ids = load(client, "base.automation", &["id", "name", "model_id/.id", "trigger", "active"], &rules)?;
    let action_ids = load(
        client,
        "ir.actions.server",
        &[
            "id",
            "name",
            "model_id/.id",
            "state",
            "webhook_url",
            "webhook_field_ids/.id",
            "base_automation_id/id",
            "usage",
        ],
        &actions,
    )?;
    let mut out = Vec::new();
    for (i, model) in wanted.iter().enumerate() {
        for (j, (trigger, _)) in TRIGGERS.iter().enumerate() {
            let k = i * TRIGGERS.len() + j;
            out.push(Installed {
                model: model.clone(),
                trigger: (*trigger).to_owned(),
                rule_id: rule_ids[k],
                action_id: action_ids[k],
            });
        }
    }
    Ok(out)
}

/// Deletes the rules and actions install_rules() created (found by their external ids);
/// returns how many rules were deleted.
pub fn remove_rules(odoo: &mut OdooSession) -> SyncResult<i64> {
    check_webhooks_possible(odoo)?;
    let client = odoo.client("base.automation")?;
    let ours = |client: &mut odoo_client::Client| -> SyncResult<Vec<(String, i64, i64)>> {
        let raw = client
            .search_read_raw(
                "ir.model.data",
                &json!([
                    ["module", "=", "odoo_sync"],
                    ["model", "in", ["base.automation", "ir.actions.server"]],
                    ["name", "=like", "webhook\\_%"]
                ]),
                &["model".to_owned(), "res_id".to_owned()],
                "id",
                10_000,
                &json!({}),
            )
            .map_err(|e| SyncError::odoo("ir.model.data", e))?;
        let rows: Vec<Value> = serde_json::from_str(&raw).unwrap_or_default();
        Ok(rows
            .iter()
            .map(|r| {
                (
                    r["model"].as_str().unwrap_or_default().to_owned(),
                    r["res_id"].as_i64().unwrap_or(0),
                    r["id"].as_i64().unwrap_or(0),
                )
            })
            .collect())
    };
    let found = ours(client)?;
    let of = |model: &str| found.iter().filter(|(m, ..)| m == model).map(|(_, id, _)| *id).collect::<Vec<_>>();
    let (rules, actions) = (of("base.automation"), of("ir.actions.server"));
    for (model, ids) in [("ir.actions.server", &actions), ("base.automation", &rules)] {
        if !ids.is_empty() {
            client.unlink(model, ids).map_err(|e| SyncError::odoo(model, e))?;
        }
    }
    // Odoo deletes a record's external ids with it; whatever is left (a rule deleted by
    // hand in Odoo) goes too, so that a later install starts clean.
    let left: Vec<i64> = ours(client)?.iter().map(|(.., imd)| *imd).collect();
    if !left.is_empty() {
        client.unlink("ir.model.data", &left).map_err(|e| SyncError::odoo("ir.model.data", e))?;
    }
    Ok(rules.len() as i64)
}

/// Odoo 17 or later, with the Automation Rules module installed.
fn check_webhooks_possible(odoo: &mut OdooSession) -> SyncResult<()> {
    let client = odoo.client("base.automation")?;
    let version = client.server_version().map_err(|e| SyncError::odoo("base.automation", e))?;
    if version.major < 17 {
        return Err(SyncError::NotSupported {
            message: format!("Odoo {} cannot send webhooks (Automation Rules send them from Odoo 17 on)", version.text),
            hint:
                "On Odoo 16 the worker's schedule, scout.odoo_sync_soon() and reconciliation keep silver up to date; \
                   shorten odoo_sync.schedule for fresher data."
                    .into(),
        });
    }
    if !odoo.has_model("base.automation")? {
        return Err(SyncError::Prerequisite {
            message: "the Odoo module base_automation (Automation Rules) is not installed".into(),
            hint: "In Odoo: Apps, search \"Automation Rules\", Activate (or odoo-bin -d <db> -i base_automation); \
                   then call this again."
                .into(),
        });
    }
    Ok(())
}

/// name -> id of the records of `model` matching `domain`, keyed on `key`'s value.
fn ids_by(
    client: &mut odoo_client::Client,
    model: &str,
    domain: Value,
    key: &[&str],
) -> SyncResult<Vec<(String, i64)>> {
    let fields: Vec<String> = key.iter().map(|k| (*k).to_owned()).collect();
    let raw = client
        .search_read_raw(model, &domain, &fields, "id", 10_000, &json!({}))
        .map_err(|e| SyncError::odoo(model, e))?;
    let rows: Vec<Value> = serde_json::from_str(&raw)
        .map_err(|e| SyncError::BadData { model: model.into(), detail: format!("search_read: {e}") })?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                key.iter().map(|k| r[k].as_str().unwrap_or_default()).collect::<Vec<_>>().join("."),
                r["id"].as_i64().unwrap_or(0),
            )
        })
        .collect())
}

/// "<model>.<field>" -> ir.model.fields id, for the webhook's fields of `models`.
fn field_ids(client: &mut odoo_client::Client, models: &[String]) -> SyncResult<Vec<(String, i64)>> {
    ids_by(
        client,
        "ir.model.fields",
        json!([["model", "in", models], ["name", "in", WEBHOOK_FIELDS]]),
        &["model", "name"],
    )
}

fn lookup(found: &[(String, i64)], key: &str, model: &str) -> SyncResult<i64> {
    found.iter().find(|(k, _)| k == key).map(|(_, id)| *id).ok_or_else(|| SyncError::BadData {
        model: model.into(),
        detail: format!("Odoo has no {model} record for {key}"),
    })
}

/// `load` of rows keyed on their external id; the record ids in row order, or Odoo's messages.
fn load(client: &mut odoo_client::Client, model: &str, fields: &[&str], rows: &[Vec<String>]) -> SyncResult<Vec<i64>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let fields: Vec<String> = fields.iter().map(|f| (*f).to_owned()).collect();
    let answer = client.load(model, &fields, rows).map_err(|e| SyncError::odoo(model, e))?;
    match answer.ids {
        Some(ids) if ids.len() == rows.len() && answer.messages.iter().all(|m| m.kind != "error") => Ok(ids),
        _ => Err(SyncError::BadData {
            model: model.into(),
            detail: format!(
                "Odoo refused to create the webhook rules: {}",
                answer.messages.iter().map(|m| m.message.as_str()).collect::<Vec<_>>().join("; ")
            ),
        }),
    }
}
