//! Deterministic retail history for a chain of Philippine stores.
//!
//! Everything derives from `--seed`, `--orders`, `--days` and `--end-date` (never the wall
//! clock), so two runs with the same flags serve byte-identical data. Timestamps follow how
//! Odoo writes them: master data arrives in import transactions that share one write_date,
//! POS orders are uploaded in batches (about 50 orders, lines and payments sharing one
//! create/write_date), and closing a session stamps all its orders (now `done`) with the
//! close transaction's time, to the microsecond.

use crate::catalog::*;
use crate::clock::{DAY, MICROS};
use crate::config::Config;
use crate::rng::Rng;
use crate::schema::{ModelDef, Schema};
use crate::store::{Row, Store, Table, Val};
use std::sync::Arc;

const HOUR: i64 = 3600 * MICROS;
const MIN: i64 = 60 * MICROS;

fn cols<const N: usize>(def: &ModelDef, names: [&str; N]) -> [usize; N] {
    names.map(|n| def.col_of(n))
}

fn blank(def: &ModelDef) -> Row {
    vec![Val::False; def.ncols]
}

fn s(x: &str) -> Val {
    Val::str(x)
}

fn money(cents: i64) -> Val {
    Val::Float(cents as f64 / 100.0)
}

/// Integer division rounding half away from zero.
fn div_round(num: i64, den: i64) -> i64 {
    let q = (num.abs() * 2 + den) / (2 * den);
    if num < 0 {
        -q
    } else {
        q
    }
}

/// A transaction start: a whole second plus random microseconds.
fn tx_at(second: i64, rng: &mut Rng) -> i64 {
    second - second.rem_euclid(MICROS) + rng.below(1_000_000) as i64
}

fn whole_second(t: i64) -> i64 {
    t - t.rem_euclid(MICROS)
}

struct Product {
    id: u32,
    price_cents: i64,
    exempt: bool,
    weighed: bool,
    company: u32,
    name: Arc<str>,
}

struct Ctx<'a> {
    cfg: &'a Config,
    schema: &'a Schema,
    store: Store,
    start: i64,
    setup_tx: i64,
}

impl<'a> Ctx<'a> {
    fn table(&mut self, model: &str) -> &mut Table {
        let i = self.schema.idx(model);
        &mut self.store.tables[i]
    }
    fn def(&self, model: &str) -> &'a ModelDef {
        self.schema.get(self.schema.idx(model))
    }
    fn stamp(&self, def: &ModelDef, row: &mut Row, created: i64, written: i64) {
        row[def.col_of("create_date")] = Val::Dt(created);
        row[def.col_of("write_date")] = Val::Dt(written);
        row[def.col_of("create_uid")] = Val::M2o(if created == self.setup_tx { 1 } else { 2 });
        row[def.col_of("write_uid")] = Val::M2o(2);
    }
    fn put(&mut self, model: &str, id: u32, row: Row) {
        self.table(model).upsert(id, row);
    }
}

pub fn generate(cfg: &Config, schema: &Schema) -> Store {
    let root = Rng::new(cfg.seed);
    let start = cfg.history_start();
    let mut setup_rng = root.fork(1);
    let setup_tx = tx_at(start - 60 * DAY + 2 * HOUR + 13 * MIN, &mut setup_rng);
    let mut c = Ctx { cfg, schema, store: Store::new(schema), start, setup_tx };
    let n_stores = (8 + cfg.orders / 20_000).clamp(8, STORES.len());

    base_records(&mut c, n_stores);
    let categories = categories(&mut c);
    let products = products(&mut c, &mut root.fork(2), &categories);
    let n_partners = partners(&mut c, &mut root.fork(3));
    partner_tags(&mut c, &mut root.fork(5));
    let cash_methods = configs_and_methods(&mut c, n_stores);
    pos_history(&mut c, &mut root.fork(4), n_stores, &products, n_partners, &cash_methods);
    for t in &mut c.store.tables {
        t.shrink();
    }
    c.store
}

/// Companies, currencies, countries, provinces, users and taxes: created when the database
/// was set up, in one transaction.
fn base_records(c: &mut Ctx, n_stores: usize) {
    let t = c.setup_tx;
    for (i, m) in c.schema.models.iter().enumerate() {
        let def = c.def("ir.model");
        let mut r = blank(def);
        r[def.col_of("model")] = s(m.name);
        r[def.col_of("name")] = s(m.description);
        c.stamp(def, &mut r, t, t);
        c.put("ir.model", i as u32 + 1, r);
    }
    if c.schema.model("ir.model.fields").is_some() {
        let def = c.def("ir.model.fields");
        let [cn, cd, cm, cmi, ct, cr] =
            cols(def, ["name", "field_description", "model", "model_id", "ttype", "relation"]);
        let mut id = 0;
        for (i, m) in c.schema.models.iter().enumerate() {
            for f in &m.fields {
                id += 1;
                let mut r = blank(def);
                r[cn] = s(f.name);
                r[cd] = s(f.string);
                r[cm] = s(m.name);
                r[cmi] = Val::M2o(i as u32 + 1);
                r[ct] = s(f.ftype.as_str());
                if let Some(rel) = f.relation {
                    r[cr] = s(rel);
                }
                c.stamp(def, &mut r, t, t);
                c.put("ir.model.fields", id, r);
            }
        }
    }
    for (id, (name, sym)) in [("PHP", "₱"), ("USD", "$")].iter().enumerate() {
        let def = c.def("res.currency");
        let mut r = blank(def);
        let [cn, cs, ca] = cols(def, ["name", "symbol", "active"]);
        r[cn] = s(name);
        r[cs] = s(sym);
        r[ca] = Val::Bool(true);
        c.stamp(def, &mut r, t, t);
        c.put("res.currency", id as u32 + 1, r);
    }
    for (id, (name, code)) in [("Philippines", "PH"), ("Singapore", "SG"), ("United States", "US")].iter().enumerate() {
        let def = c.def("res.country");
        let mut r = blank(def);
        r[def.col_of("name")] = s(name);
        r[def.col_of("code")] = s(code);
        c.stamp(def, &mut r, t, t);
        c.put("res.country", id as u32 + 1, r);
    }
    let mut provinces: Vec<&str> = Vec::new();
    for (_, prov, _, _, _) in CITIES {
        if !provinces.contains(prov) {
            provinces.push(prov);
        }
    }
    for (i, prov) in provinces.iter().enumerate() {
        let def = c.def("res.country.state");
        let mut r = blank(def);
        r[def.col_of("name")] = s(prov);
        let code: String =
            prov.split_whitespace().map(|w| w.chars().next().unwrap_or('X')).collect::<String>().to_uppercase();
        r[def.col_of("code")] = s(&format!("{}{}", code, i + 1));
        r[def.col_of("country_id")] = Val::M2o(1);
        c.stamp(def, &mut r, t, t);
        c.put("res.country.state", i as u32 + 1, r);
    }
    for (id, name) in [(1u32, "Scout Retail Philippines Inc."), (2, "Scout Retail Visayas")] {
        let def = c.def("res.company");
        let mut r = blank(def);
        r[def.col_of("name")] = s(name);
        r[def.col_of("currency_id")] = Val::M2o(1);
        r[def.col_of("country_id")] = Val::M2o(1);
        c.stamp(def, &mut r, t, t);
        c.put("res.company", id, r);
    }
    // Users: OdooBot (archived), the API user (uid 2) and one cashier per store.
    let mut rng = Rng::new(c.cfg.seed ^ 0x5555);
    let user = c.cfg.user.clone();
    let mut users: Vec<(String, String, bool, u32)> =
        vec![("OdooBot".into(), "__system__".into(), false, 1), ("Administrator".into(), user, true, 1)];
    for (name, _, company) in STORES.iter().take(n_stores) {
        let person = format!("{} {}", rng.pick(FIRST_NAMES), rng.pick(LAST_NAMES));
        let login = format!("cashier.{}", name.to_lowercase().replace(' ', ".").replace(".store", ""));
        users.push((person, login, true, *company));
    }
    for (i, (name, login, active, company)) in users.iter().enumerate() {
        let def = c.def("res.users");
        let mut r = blank(def);
        let [cn, cl, ca, cc] = cols(def, ["name", "login", "active", "company_id"]);
        r[cn] = s(name);
        r[cl] = s(login);
        r[ca] = Val::Bool(*active);
        r[cc] = Val::M2o(*company);
        c.stamp(def, &mut r, t, t);
        c.put("res.users", i as u32 + 1, r);
    }
    let taxes = [
        ("12% VAT", 12.0, "sale", 1u32),
        ("VAT Exempt", 0.0, "sale", 1),
        ("12% VAT", 12.0, "sale", 2),
        ("VAT Exempt", 0.0, "sale", 2),
        ("12% Input VAT", 12.0, "purchase", 1),
    ];
    for (i, (name, amount, use_, company)) in taxes.iter().enumerate() {
        let def = c.def("account.tax");
        let mut r = blank(def);
        let [cn, ca, cu, cact, cc] = cols(def, ["name", "amount", "type_tax_use", "active", "company_id"]);
        r[cn] = s(name);
        r[ca] = Val::Float(*amount);
        r[cu] = Val::Sel(def.fdef("type_tax_use").and_then(|f| f.sel_index(use_)).unwrap_or(0));
        r[cact] = Val::Bool(true);
        r[cc] = Val::M2o(*company);
        c.stamp(def, &mut r, t, t);
        c.put("account.tax", i as u32 + 1, r);
    }
}

/// Category ids per (department, subcategory): `All`, `All / Dept`, `All / Dept / Sub`.
fn categories(c: &mut Ctx) -> Vec<Vec<u32>> {
    let t = c.setup_tx;
    let def = c.def("product.category");
    let [cn, cc, cp] = cols(def, ["name", "complete_name", "parent_id"]);
    let mut next = 1u32;
    let mut add = |c: &mut Ctx, name: &str, full: &str, parent: u32| -> u32 {
        let mut r = blank(def);
        r[cn] = s(name);
        r[cc] = s(full);
        r[cp] = if parent == 0 { Val::False } else { Val::M2o(parent) };
        c.stamp(def, &mut r, t, t);
        let id = next;
        next += 1;
        c.put("product.category", id, r);
        id
    };
    let all = add(c, "All", "All", 0);
    let mut out = Vec::new();
    for (dept, _, subs) in DEPARTMENTS {
        let d = add(c, dept, &format!("All / {dept}"), all);
        out.push(subs.iter().map(|sub| add(c, sub.name, &format!("All / {dept} / {}", sub.name), d)).collect());
    }
    out
}

fn ean13(rng: &mut Rng) -> String {
    let mut d: Vec<u32> = vec![4, 8, 0];
    for _ in 0..9 {
        d.push(rng.below(10) as u32);
    }
    let sum: u32 = d.iter().enumerate().map(|(i, x)| if i % 2 == 0 { *x } else { 3 * x }).sum();
    d.push((10 - sum % 10) % 10);
    d.iter().map(|x| char::from(b'0' + *x as u8)).collect()
}

fn products(c: &mut Ctx, rng: &mut Rng, categories: &[Vec<u32>]) -> Vec<Product> {
    let with_brand = c.cfg.with_brand;
    if with_brand {
        let def = c.def("product.brand");
        for (i, (name, _)) in BRANDS.iter().enumerate() {
            let mut r = blank(def);
            r[def.col_of("name")] = s(name);
            c.stamp(def, &mut r, c.setup_tx, c.setup_tx);
            c.put("product.brand", i as u32 + 1, r);
        }
    }
    let def = c.def("product.product");
    let [cname, ccode, cbar, ccat, cprice, ccost, cact, ctype, ctax, ccomp, ctmpl] = cols(
        def,
        [
            "name",
            "default_code",
            "barcode",
            "categ_id",
            "list_price",
            "standard_price",
            "active",
            "type",
            "taxes_id",
            "company_id",
            "product_tmpl_id",
        ],
    );
    let cbrand = def.fdef("product_brand_id").and_then(|f| f.col());
    let cdetailed = def.fdef("detailed_type").and_then(|f| f.col()); // Odoo 16, 17
    let cstorable = def.fdef("is_storable").and_then(|f| f.col()); // Odoo 18+
    let sel = |k: &str| Val::Sel(def.fdef("type").and_then(|f| f.sel_index(k)).unwrap_or(0));
    let taxable: Arc<[u32]> = Arc::from(vec![1, 3]);
    let exempt: Arc<[u32]> = Arc::from(vec![2, 4]);
    let subs: Vec<(usize, usize)> =
        DEPARTMENTS.iter().enumerate().flat_map(|(d, (_, _, ss))| (0..ss.len()).map(move |i| (d, i))).collect();
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    let target = 2000;
    // Products arrive in import batches of 100 that share a write_date.
    let import_base = c.start - 45 * DAY + 9 * HOUR;
    let mut import_tx = tx_at(import_base, rng);
    let mut attempts = 0;
    while out.len() < target && attempts < target * 20 {
        attempts += 1;
        let (d, si) = *rng.pick(&subs);
        let (_, prefix, ss) = &DEPARTMENTS[d];
        let sub = &ss[si];
        let service = sub.flags & SERVICE != 0;
        let brands: Vec<usize> = BRANDS.iter().enumerate().filter(|(_, b)| b.1 == d).map(|(i, _)| i).collect();
        let brand = if service || brands.is_empty() || rng.chance(0.08) { None } else { Some(*rng.pick(&brands)) };
        let item = rng.pick(sub.items);
        let name = if service {
            item.to_string()
        } else {
            let variant = if rng.chance(0.6) { format!(" {}", rng.pick(VARIANTS)) } else { String::new() };
            let size = rng.pick(sub.sizes);
            let b = brand.map(|b| format!("{} ", BRANDS[b].0)).unwrap_or_default();
            format!("{b}{item}{variant} {size}").trim().to_string()
        };
        if !seen.insert(name.clone()) {
            continue;
        }
        let id = out.len() as u32 + 1;
        if id % 100 == 1 && id > 1 {
            import_tx = tx_at(import_base + (id as i64 / 100) * 7 * MIN + rng.range(0, 59) * MICROS, rng);
        }
        // Shelf prices end in .00, .25, .50 or .75 with VAT; list_price is VAT excluded.
        let shelf = (rng.range(sub.lo as i64 * 4, sub.hi as i64 * 4)) * 25;
        let is_exempt = sub.flags & EXEMPT != 0;
        let price_cents = if is_exempt { shelf } else { div_round(shelf * 100, 112) };
        let company = if !service && rng.chance(0.02) { 2 } else { 0 };
        let mut r = blank(def);
        let name: Arc<str> = Arc::from(name.as_str());
        r[cname] = Val::Str(name.clone());
        r[ccode] = if rng.chance(0.05) { Val::False } else { s(&format!("{}{:05}", prefix, id)) };
        r[cbar] = if service || rng.chance(0.1) { Val::False } else { s(&ean13(rng)) };
        r[ccat] = Val::M2o(categories[d][si]);
        r[cprice] = money(price_cents);
        r[ccost] = money(div_round(price_cents * rng.range(55, 80), 100));
        r[cact] = Val::Bool(!rng.chance(0.03));
        // Most goods are stocked. Odoo 16/17 call them type "product"; 18+ "consu" with
        // is_storable. Decided by id, not by a draw, so the data is the same on every version.
        let storable = !service && !id.is_multiple_of(7);
        match (cdetailed, cstorable) {
            (Some(cd), _) => {
                let t = if service {
                    "service"
                } else if storable {
                    "product"
                } else {
                    "consu"
                };
                r[ctype] = sel(t);
                r[cd] = Val::Sel(def.fdef("detailed_type").and_then(|f| f.sel_index(t)).unwrap_or(0));
            }
            (None, storable_col) => {
                r[ctype] = sel(if service { "service" } else { "consu" });
                if let Some(cs) = storable_col {
                    r[cs] = Val::Bool(storable);
                }
            }
        }
        r[ctax] = Val::Ids(if is_exempt { exempt.clone() } else { taxable.clone() });
        r[ccomp] = if company == 0 { Val::False } else { Val::M2o(company) };
        r[ctmpl] = Val::M2o(id);
        if let Some(cb) = cbrand {
            r[cb] = brand.map(|b| Val::M2o(b as u32 + 1)).unwrap_or(Val::False);
        }
        c.stamp(def, &mut r, import_tx, import_tx);
        c.put("product.product", id, r);
        out.push(Product { id, price_cents, exempt: is_exempt, weighed: sub.flags & WEIGHED != 0, company, name });
    }
    // Price reviews during the period: each touches a group of products in one transaction.
    let pt = c.schema.idx("product.product");
    let days = c.cfg.days as i64;
    for _ in 0..(days / 6).max(1) {
        let when = tx_at(c.start + rng.range(0, days - 1) * DAY + rng.range(3600, 3 * 3600) * MICROS, rng);
        let n = rng.range(20, 80);
        for _ in 0..n {
            let p = rng.below(out.len() as u64) as usize;
            let row = p; // product ids are 1..=n with no gaps: row = id - 1
            let t = &mut c.store.tables[pt];
            t.set(row, def.col_of("write_date"), Val::Dt(when));
        }
    }
    out
}

/// A few partner tags, as Odoo's own data has them (external ids in module `base`), and about
/// one partner in twelve with one of them, set when the partner was created.
fn partner_tags(c: &mut Ctx, rng: &mut Rng) {
    let t = c.setup_tx;
    let tags = [("Loyalty Member", 3), ("Wholesale", 5), ("Employee", 9), ("Corporate Account", 0)];
    for (i, (name, color)) in tags.iter().enumerate() {
        let id = i as u32 + 1;
        let def = c.def("res.partner.category");
        let mut r = blank(def);
        let [cn, cc, ca] = cols(def, ["name", "color", "active"]);
        r[cn] = s(name);
        r[cc] = Val::Int(*color);
        r[ca] = Val::Bool(true);
        c.stamp(def, &mut r, t, t);
        c.put("res.partner.category", id, r);
        let def = c.def("ir.model.data");
        let mut r = blank(def);
        let [cn, cm, cmo, cr] = cols(def, ["name", "module", "model", "res_id"]);
        r[cn] = s(&format!("res_partner_category_{id}"));
        r[cm] = s("base");
        r[cmo] = s("res.partner.category");
        r[cr] = Val::Int(id as i64);
        c.stamp(def, &mut r, t, t);
        c.put("ir.model.data", id, r);
    }
    let col = c.def("res.partner").col_of("category_id");
    let pt = c.table("res.partner");
    for row in 0..pt.len() {
        if rng.chance(1.0 / 12.0) {
            pt.set(row, col, Val::ids(vec![1 + rng.below(tags.len() as u64) as u32]));
        }
    }
}

fn partners(c: &mut Ctx, rng: &mut Rng) -> u32 {
    let def = c.def("res.partner");
    let [cname, ccomplete, ctype, cis_co, cparent, cstreet, cstreet2, ccity, czip, cstate, ccountry, cemail, cphone, cact, ccomp, crank] =
        cols(
            def,
            [
                "name",
                "complete_name",
                "type",
                "is_company",
                "parent_id",
                "street",
                "street2",
                "city",
                "zip",
                "state_id",
                "country_id",
                "email",
                "phone",
                "active",
                "company_id",
                "customer_rank",
            ],
        );
    let cregion = def.fdef("x_region_code").and_then(|f| f.col());
    let cmobile = def.fdef("mobile").and_then(|f| f.col()); // Odoo 16-18
    let region_idx = |code: &str| def.fdef("x_region_code").and_then(|f| f.sel_index(code));
    let mut provinces: Vec<&str> = Vec::new();
    for (_, prov, _, _, _) in CITIES {
        if !provinces.contains(prov) {
            provinces.push(prov);
        }
    }
    let cum: Vec<f64> = CITIES
        .iter()
        .scan(0.0, |a, x| {
            *a += x.4 as f64;
            Some(*a)
        })
        .collect();
    let contact = Val::Sel(0);
    let n = 1000 + c.cfg.orders as u32 / 50;
    let import_base = c.start - 40 * DAY + 10 * HOUR;
    let mut tx = tx_at(import_base, rng);
    let mut companies: Vec<(u32, String)> = Vec::new();
    let mut emails = std::collections::HashSet::new();
    for id in 1..=n {
        if id % 250 == 1 && id > 1 {
            tx = tx_at(import_base + (id as i64 / 250) * 11 * MIN + rng.range(0, 59) * MICROS, rng);
        }
        let mut r = blank(def);
        let (name, is_company, parent) = match id {
            1 => ("Scout Retail Philippines Inc.".to_string(), true, None),
            2 => ("Scout Retail Visayas".to_string(), true, None),
            3 => ("Administrator".to_string(), false, None),
            _ if rng.chance(0.05) => (format!("{} {}", rng.pick(LAST_NAMES), rng.pick(COMPANY_SUFFIXES)), true, None),
            _ => {
                let person = format!("{} {}", rng.pick(FIRST_NAMES), rng.pick(LAST_NAMES));
                let parent =
                    if !companies.is_empty() && rng.chance(0.04) { Some(rng.pick(&companies).clone()) } else { None };
                (person, false, parent)
            }
        };
        let city = &CITIES[rng.weighted(&cum)];
        r[cname] = s(&name);
        r[ccomplete] = s(&match &parent {
            Some((_, pname)) => format!("{pname}, {name}"),
            None => name.clone(),
        });
        r[ctype] = contact.clone();
        r[cis_co] = Val::Bool(is_company);
        r[cparent] = parent.as_ref().map(|p| Val::M2o(p.0)).unwrap_or(Val::False);
        r[cstreet] = s(&format!("{} {}", rng.range(1, 2400), rng.pick(STREETS)));
        r[cstreet2] = if rng.chance(0.55) { s(rng.pick::<&str>(BARANGAYS)) } else { Val::False };
        r[ccity] = s(city.0);
        r[czip] = s(city.2);
        r[cstate] = Val::M2o(provinces.iter().position(|p| *p == city.1).unwrap_or(0) as u32 + 1);
        r[ccountry] = Val::M2o(1);
        let handle: String = name
            .to_lowercase()
            .chars()
            .filter(|ch| ch.is_ascii_alphanumeric() || *ch == ' ')
            .collect::<String>()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(".");
        let email = format!("{}{}@{}", handle, rng.range(1, 99), rng.pick(EMAIL_DOMAINS));
        r[cemail] = if id > 3 && rng.chance(0.7) && emails.insert(email.clone()) { s(&email) } else { Val::False };
        r[cphone] = if rng.chance(0.8) {
            s(&format!("+63 9{:02} {:03} {:04}", rng.range(5, 99), rng.range(0, 999), rng.range(0, 9999)))
        } else {
            Val::False
        };
        r[cact] = Val::Bool(id <= 3 || !rng.chance(0.02));
        r[ccomp] = Val::False;
        r[crank] = Val::Int(0);
        if let Some(cr) = cregion {
            r[cr] = region_idx(city.3).map(Val::Sel).unwrap_or(Val::False);
        }
        // A mobile number for every third contact, until Odoo 19 removed the field.
        if let Some(cm) = cmobile {
            r[cm] = if id % 3 == 0 {
                s(&format!("+63 917 {:03} {:04}", id % 1000, (id * 7919) % 10000))
            } else {
                Val::False
            };
        }
        // Some contacts were edited during the period, each in its own transaction.
        let written = if id > 3 && rng.chance(0.1) {
            tx_at(c.start + rng.range(0, c.cfg.days as i64 * 86_400 - 1) * MICROS, rng)
        } else {
            tx
        };
        c.stamp(def, &mut r, tx, written);
        c.put("res.partner", id, r);
        if is_company && id > 2 {
            companies.push((id, name));
        }
    }
    n
}

/// Stores and payment methods: "Cash" once per store (several methods share the name), then
/// Card, GCash, Maya and Customer Account per company. Returns the cash method id per store.
fn configs_and_methods(c: &mut Ctx, n_stores: usize) -> Vec<u32> {
    let t = c.setup_tx;
    let def = c.def("pos.config");
    for (i, (name, _, company)) in STORES.iter().take(n_stores).enumerate() {
        let mut r = blank(def);
        let [cn, cc, ccur, ca] = cols(def, ["name", "company_id", "currency_id", "active"]);
        r[cn] = s(name);
        r[cc] = Val::M2o(*company);
        r[ccur] = Val::M2o(1);
        r[ca] = Val::Bool(true);
        c.stamp(def, &mut r, t, t);
        c.put("pos.config", i as u32 + 1, r);
    }
    let def = c.def("pos.payment.method");
    let [cn, ctype, ccash, cc, ca] = cols(def, ["name", "type", "is_cash_count", "company_id", "active"]);
    let ty = |k: &str| Val::Sel(def.fdef("type").and_then(|f| f.sel_index(k)).unwrap_or(0));
    let mut id = 0u32;
    let mut add = |c: &mut Ctx, name: &str, kind: &str, company: u32| -> u32 {
        id += 1;
        let mut r = blank(def);
        r[cn] = s(name);
        r[ctype] = ty(kind);
        r[ccash] = Val::Bool(kind == "cash");
        r[cc] = Val::M2o(company);
        r[ca] = Val::Bool(true);
        c.stamp(def, &mut r, t, t);
        c.put("pos.payment.method", id, r);
        id
    };
    let cash: Vec<u32> = STORES.iter().take(n_stores).map(|(_, _, co)| add(c, "Cash", "cash", *co)).collect();
    for company in [1, 2] {
        for (name, kind) in [("Card", "bank"), ("GCash", "bank"), ("Maya", "bank"), ("Customer Account", "pay_later")] {
            add(c, name, kind, company);
        }
    }
    cash
}

/// Payment method id of a kind for a store (methods are laid out by `configs_and_methods`).
fn method_id(n_stores: usize, company: u32, kind: usize) -> u32 {
    n_stores as u32 + (company - 1) * 4 + kind as u32 + 1
}

struct Session {
    id: u32,
    store: usize,
    start_at: i64,
    stop_at: i64,
    close_tx: Option<i64>,
    n_orders: usize,
    seq_in_session: u32,
}

struct Batch {
    tx: i64,
    session: usize,
    times: Vec<i64>,
}

/// A paid order that a later order may refund: its name, lines and payment method.
#[derive(Clone)]
struct PastOrder {
    name: Arc<str>,
    lines: Vec<Line>,
    method: u32,
}

/// The POS history: the sessions, then every order with its lines and payments, upload batch
/// by upload batch, then each partner's customer_rank. All draws come from one `rng` stream,
/// so the steps must run in exactly this order for a seed to keep giving the same data.
fn pos_history(c: &mut Ctx, rng: &mut Rng, n_stores: usize, products: &[Product], n_partners: u32, cash: &[u32]) {
    // Drawn before the sessions' times (draw order), used for their share of the orders.
    let store_w: Vec<f64> = (0..n_stores).map(|_| 0.6 + rng.unit()).collect();
    let mut sessions = session_times(c, rng, n_stores);
    let weights = session_weights(c, rng, &sessions, &store_w);
    allocate_orders(&mut sessions, &weights, c.cfg.orders);
    write_sessions(c, rng, &mut sessions, n_stores);
    let batches = upload_batches(rng, &sessions);
    let cum = popularity(rng, products.len());
    presize_order_tables(c);
    let mut orders = Orders::new(c, n_stores, products, n_partners, cash, cum);
    for b in &batches {
        let sess = &mut sessions[b.session];
        for &when in &b.times {
            sess.seq_in_session += 1;
            orders.order(c, rng, sess, b.tx, when);
        }
    }
    set_customer_ranks(c, &orders.partner_orders);
}

/// Sessions: one per store per day, opened 01:30–01:50 and closed 14:10–14:50 UTC (whole
/// seconds), in the order they opened; ids and order counts are filled in later.
fn session_times(c: &Ctx, rng: &mut Rng, n_stores: usize) -> Vec<Session> {
    let mut sessions: Vec<Session> = Vec::new();
    for d in 0..c.cfg.days as i64 {
        let day = c.start + d * DAY;
        let mut todays: Vec<Session> = (0..n_stores)
            .map(|st| {
                let start_at = whole_second(day + HOUR + 30 * MIN + rng.range(0, 1200) * MICROS);
                let stop_at = whole_second(day + 14 * HOUR + 10 * MIN + rng.range(0, 2400) * MICROS);
                Session { id: 0, store: st, start_at, stop_at, close_tx: None, n_orders: 0, seq_in_session: 0 }
            })
            .collect();
        todays.sort_by_key(|s| (s.start_at, s.store));
        sessions.extend(todays);
    }
    sessions
}

/// How busy each session is: its store's weight, busier on Friday to Sunday and on paydays
/// (the 15th and the 30th/31st), with some noise.
fn session_weights(c: &Ctx, rng: &mut Rng, sessions: &[Session], store_w: &[f64]) -> Vec<f64> {
    sessions
        .iter()
        .map(|s| {
            let day = (s.start_at - c.start) / DAY;
            let date = c.start / DAY + day;
            let weekday = (date + 4).rem_euclid(7);
            let dom = crate::clock::civil_from_days(date).2;
            let w_day = match weekday {
                5 => 1.2,
                6 => 1.5,
                0 => 1.4,
                _ => 1.0,
            } * if dom == 15 || dom >= 30 { 1.3 } else { 1.0 };
            store_w[s.store] * w_day * (0.85 + 0.3 * rng.unit())
        })
        .collect()
}

/// Shares exactly `n` orders among the sessions in proportion to `weights`: the floors, then
/// one more to the sessions with the largest remainders (ties by session).
fn allocate_orders(sessions: &mut [Session], weights: &[f64], n: usize) {
    let total_w: f64 = weights.iter().sum();
    let mut rem: Vec<(f64, usize)> = Vec::with_capacity(sessions.len());
    let mut given = 0;
    for (i, w) in weights.iter().enumerate() {
        let exact = n as f64 * w / total_w;
        sessions[i].n_orders = exact.floor() as usize;
        given += sessions[i].n_orders;
        rem.push((exact - exact.floor(), i));
    }
    rem.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal).then(a.1.cmp(&b.1)));
    for (_, i) in rem.iter().take(n.saturating_sub(given)) {
        sessions[*i].n_orders += 1;
    }
}

/// The pos.session rows, numbered per store. Every day's session is closed except the last
/// day's: those are still open, the first store's in closing control. Sets each session's id
/// and the time of its close transaction (which later stamps its done orders).
fn write_sessions(c: &mut Ctx, rng: &mut Rng, sessions: &mut [Session], n_stores: usize) {
    let last_day = c.start + (c.cfg.days as i64 - 1) * DAY;
    let sdef = c.def("pos.session");
    let [sn, sc, sst, ssa, sso, su, sco] =
        cols(sdef, ["name", "config_id", "state", "start_at", "stop_at", "user_id", "company_id"]);
    let state = |k: &str| Val::Sel(sdef.fdef("state").and_then(|f| f.sel_index(k)).unwrap_or(0));
    let mut seq_per_store = vec![0u32; n_stores];
    for (i, s_) in sessions.iter_mut().enumerate() {
        s_.id = i as u32 + 1;
        seq_per_store[s_.store] += 1;
        let is_last = s_.start_at >= last_day;
        let open_tx = tx_at(s_.start_at, rng);
        if !is_last {
            s_.close_tx = Some(tx_at(s_.stop_at + rng.range(1, 8) * MICROS, rng));
        }
        let (name, _, company) = STORES[s_.store];
        let mut r = blank(sdef);
        r[sn] = s(&format!("{}/{:05}", name, seq_per_store[s_.store]));
        r[sc] = Val::M2o(s_.store as u32 + 1);
        r[sst] = state(match (is_last, s_.store) {
            (false, _) => "closed",
            (true, 0) => "closing_control",
            _ => "opened",
        });
        r[ssa] = Val::Dt(s_.start_at);
        r[sso] = if is_last { Val::False } else { Val::Dt(s_.stop_at) };
        r[su] = Val::M2o(3 + s_.store as u32);
        r[sco] = Val::M2o(company);
        c.stamp(sdef, &mut r, open_tx, s_.close_tx.unwrap_or(open_tx));
        c.put("pos.session", s_.id, r);
    }
}

/// Each session's order times (whole seconds) and how the POS uploaded them: online, one
/// order per upload, or offline bursts of 20–80 that share one transaction. Sorted by
/// transaction time, the order in which ids are given.
fn upload_batches(rng: &mut Rng, sessions: &[Session]) -> Vec<Batch> {
    let mut batches: Vec<Batch> = Vec::new();
    for (si, s_) in sessions.iter().enumerate() {
        if s_.n_orders == 0 {
            continue;
        }
        let lo = s_.start_at + 5 * MIN;
        let hi = s_.stop_at - 10 * MIN;
        let mut times: Vec<i64> =
            (0..s_.n_orders).map(|_| whole_second(lo + rng.below((hi - lo) as u64) as i64)).collect();
        times.sort_unstable();
        let mut i = 0;
        while i < times.len() {
            let size = if rng.chance(0.5) { 1 } else { rng.range(20, 80) as usize };
            let j = (i + size).min(times.len());
            let last = times[j - 1];
            let tx = tx_at((last + rng.range(1, 20) * MICROS).min(s_.stop_at - MICROS), rng);
            batches.push(Batch { tx, session: si, times: times[i..j].to_vec() });
            i = j;
        }
    }
    batches.sort_by_key(|b| (b.tx, b.session));
    batches
}

/// Product popularity: a Zipf-like weight (1 / rank^0.8) over a shuffled catalogue, as the
/// cumulative table `Rng::weighted` draws from (indexed like `products`).
fn popularity(rng: &mut Rng, n_products: usize) -> Vec<f64> {
    let mut order_idx: Vec<usize> = (0..n_products).collect();
    for i in (1..order_idx.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        order_idx.swap(i, j);
    }
    let mut cum = vec![0.0; n_products];
    let mut acc = 0.0;
    let mut pop = vec![0.0; n_products];
    for (rank, &p) in order_idx.iter().enumerate() {
        pop[p] = 1.0 / ((rank + 1) as f64).powf(0.8);
    }
    for (i, w) in pop.iter().enumerate() {
        acc += w;
        cum[i] = acc;
    }
    cum
}

/// Pre-sizes the three big tables so that generation does not double their memory while
/// growing (about 4.6 lines and 1.3 payments per order).
fn presize_order_tables(c: &mut Ctx) {
    let n = c.cfg.orders;
    let est_lines = (n as f64 * 4.6) as usize + 16;
    for (model, cap) in [("pos.order", n + 16), ("pos.order.line", est_lines), ("pos.payment", n + n / 3 + 16)] {
        let i = c.schema.idx(model);
        c.store.tables[i] = Table::new(i, c.def(model), cap);
    }
}

/// An order's state. Odoo 19 has no `invoiced` state (an invoiced order stays `done`), but
/// invoiced orders are drawn on every version so that the rest of the data stays the same.
/// The discriminants index `Orders::states`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Draft = 0,
    Paid = 1,
    Done = 2,
    Invoiced = 3,
    Cancel = 4,
}

/// A line as drawn: (product index, quantity in thousandths, unit price in cents, discount %).
type Line = (usize, i64, i64, i64);

/// A payment as drawn: (payment method id, amount in cents, is_change).
type Payment = (u32, i64, bool);

/// What an order's lines and payments share: the order, its session and company, and the
/// upload transaction that created them.
struct Owner {
    order: u32,
    session: u32,
    company: u32,
    created: i64,
}

/// The pos.order fields `Orders::order` fills (the order of its columns in `Orders::oc`).
const ORDER_FIELDS: [&str; 16] = [
    "name",
    "pos_reference",
    "date_order",
    "partner_id",
    "session_id",
    "config_id",
    "company_id",
    "currency_id",
    "user_id",
    "amount_total",
    "amount_tax",
    "amount_paid",
    "amount_return",
    "state",
    "lines",
    "payment_ids",
];

/// The pos.order.line fields `Orders::put_lines` fills (the order of `Orders::lc`).
const LINE_FIELDS: [&str; 10] = [
    "order_id",
    "product_id",
    "full_product_name",
    "qty",
    "price_unit",
    "discount",
    "price_subtotal",
    "price_subtotal_incl",
    "tax_ids",
    "company_id",
];

/// The pos.payment fields `Orders::put_payments` fills (the order of `Orders::pc`).
const PAYMENT_FIELDS: [&str; 7] =
    ["pos_order_id", "payment_method_id", "amount", "payment_date", "session_id", "is_change", "company_id"];

/// The order loop: the fixed inputs (models, columns, states, catalogue, payment methods) and
/// the running counters (next ids, per-store order numbers, refundable orders, orders per
/// partner).
struct Orders<'a> {
    odef: &'a ModelDef,
    ldef: &'a ModelDef,
    pdef: &'a ModelDef,
    /// Table indices of pos.order, pos.order.line and pos.payment.
    oi: usize,
    li: usize,
    pi: usize,
    /// The columns of ORDER_FIELDS, LINE_FIELDS and PAYMENT_FIELDS.
    oc: [usize; 16],
    lc: [usize; 10],
    pc: [usize; 7],
    /// pos.order's `uuid` (Odoo 18 and later).
    ouuid: Option<usize>,
    /// pos.order's `state` value of each `State` (indexed by `State as usize`); without an
    /// `invoiced` state (Odoo 19) invoiced orders are written as done.
    states: [Val; 5],
    /// Whether pos.order's `state` has `invoiced` (Odoo 16 to 18).
    has_invoiced: bool,
    n_stores: usize,
    n_partners: u32,
    products: &'a [Product],
    /// Cash payment method per store.
    cash: &'a [u32],
    /// Cumulative product popularity (`popularity`).
    cum: Vec<f64>,
    /// A line's taxes, indexed by company - 1, + 2 when exempt: that company's 12 % VAT, or none.
    tax_of: [Arc<[u32]>; 4],
    order_seq: Vec<u32>,
    /// Per store, paid orders that a later order may refund (at most 400).
    past: Vec<Vec<PastOrder>>,
    /// Orders per partner id (customer_rank).
    partner_orders: Vec<i64>,
    next_order: u32,
    next_line: u32,
    next_pay: u32,
}

impl<'a> Orders<'a> {
    fn new(
        c: &Ctx<'a>,
        n_stores: usize,
        products: &'a [Product],
        n_partners: u32,
        cash: &'a [u32],
        cum: Vec<f64>,
    ) -> Orders<'a> {
        let (odef, ldef, pdef) = (c.def("pos.order"), c.def("pos.order.line"), c.def("pos.payment"));
        let schema = c.schema;
        let state_of = |k: &str| Val::Sel(odef.fdef("state").and_then(|f| f.sel_index(k)).unwrap_or(0));
        let has_invoiced = odef.fdef("state").and_then(|f| f.sel_index("invoiced")).is_some();
        let invoiced = state_of(if has_invoiced { "invoiced" } else { "done" });
        Orders {
            odef,
            ldef,
            pdef,
            oi: schema.idx("pos.order"),
            li: schema.idx("pos.order.line"),
            pi: schema.idx("pos.payment"),
            oc: cols(odef, ORDER_FIELDS),
            lc: cols(ldef, LINE_FIELDS),
            pc: cols(pdef, PAYMENT_FIELDS),
            ouuid: odef.fdef("uuid").and_then(|f| f.col()),
            states: [state_of("draft"), state_of("paid"), state_of("done"), invoiced, state_of("cancel")],
            has_invoiced,
            n_stores,
            n_partners,
            products,
            cash,
            cum,
            tax_of: [Arc::from(vec![1u32]), Arc::from(vec![3u32]), Arc::from(vec![]), Arc::from(vec![])],
            order_seq: vec![0u32; n_stores],
            past: vec![Vec::new(); n_stores],
            partner_orders: vec![0i64; n_partners as usize + 1],
            next_order: 1,
            next_line: 1,
            next_pay: 1,
        }
    }

    /// One order of session `sess` at `when`, uploaded by the transaction `created`: its lines,
    /// its payments and its row, in that order (their ids and draws depend on it).
    fn order(&mut self, c: &mut Ctx, rng: &mut Rng, sess: &Session, created: i64, when: i64) {
        let (store, closed_at) = (sess.store, sess.close_tx);
        let (config_name, _, company) = STORES[store];
        let config = store as u32 + 1;
        let own = Owner { order: self.next_order, session: sess.id, company, created };
        self.next_order += 1;
        let (state, refund_of) = self.draw_state(rng, store, closed_at.is_some());
        let lines: Vec<Line> = match &refund_of {
            Some(orig) => orig.lines.iter().map(|&(p, q, pr, d)| (p, -q, pr, d)).collect(),
            None => self.draw_lines(rng, company),
        };
        let written = written_at(rng, state, created, closed_at, self.has_invoiced);
        let (total, excl, line_ids) = self.put_lines(c, &own, &lines);
        // Payments: none for drafts and cancelled orders; otherwise they sum to the total.
        let paid = state != State::Draft && state != State::Cancel;
        let (pays, change, method_used) = if paid {
            self.draw_payments(rng, store, company, total, refund_of.as_ref())
        } else {
            (Vec::new(), 0, self.cash[store])
        };
        let pay_ids = self.put_payments(c, rng, &own, when, &pays);
        let name: Arc<str> = match &refund_of {
            Some(orig) => Arc::from(format!("{} REFUND", orig.name).as_str()),
            None => {
                self.order_seq[store] += 1;
                Arc::from(format!("{} - {:06}", config_name, self.order_seq[store]).as_str())
            }
        };
        let partner = self.draw_partner(rng, state);
        let [on, oref, odate, opartner, osession, oconfig, ocomp, ocur, ouser, ototal, otax, opaid, oret, ostate, olines, opays] =
            self.oc;
        let mut r = blank(self.odef);
        r[on] = Val::Str(name.clone());
        r[oref] = s(&format!("{}-{}-{:06}", own.session, config, sess.seq_in_session));
        r[odate] = Val::Dt(when);
        r[opartner] = partner;
        r[osession] = Val::M2o(own.session);
        r[oconfig] = Val::M2o(config);
        r[ocomp] = Val::M2o(company);
        r[ocur] = Val::M2o(1);
        r[ouser] = Val::M2o(3 + store as u32);
        r[ototal] = money(total);
        r[otax] = money(total - excl);
        r[opaid] = money(if paid { total } else { 0 });
        r[oret] = money(change);
        r[ostate] = self.states[state as usize].clone();
        r[olines] = Val::ids(line_ids);
        r[opays] = Val::ids(pay_ids);
        if let Some(cu) = self.ouuid {
            r[cu] = s(&crate::defaults::uuid_from(c.cfg.seed, own.order as u64));
        }
        c.stamp(self.odef, &mut r, created, written);
        c.store.tables[self.oi].upsert(own.order, r);
        if paid && refund_of.is_none() {
            self.remember(rng, store, PastOrder { name, lines, method: method_used });
        }
    }

    /// The order's state, and the earlier order of the same store it refunds, if any. Orders
    /// of closed sessions end done (some invoiced or cancelled); of open ones paid (some draft
    /// or cancelled).
    fn draw_state(&mut self, rng: &mut Rng, store: usize, closed: bool) -> (State, Option<PastOrder>) {
        let past = &mut self.past[store];
        let roll = rng.unit();
        if closed {
            if roll < 0.01 {
                (State::Cancel, None)
            } else if roll < 0.04 {
                (State::Invoiced, None)
            } else if roll < 0.06 && !past.is_empty() {
                let k = rng.below(past.len() as u64) as usize;
                (State::Done, Some(past.swap_remove(k)))
            } else {
                (State::Done, None)
            }
        } else if roll < 0.04 {
            (State::Draft, None)
        } else if roll < 0.05 {
            (State::Cancel, None)
        } else if roll < 0.07 && !past.is_empty() {
            let k = rng.below(past.len() as u64) as usize;
            (State::Paid, Some(past.swap_remove(k)))
        } else {
            (State::Paid, None)
        }
    }

    /// 1–8 lines of popular products the company sells: a count of items or a weight, and a
    /// discount on about 8 % of them.
    fn draw_lines(&self, rng: &mut Rng, company: u32) -> Vec<Line> {
        let k = rng.range(1, 8) as usize;
        let mut v = Vec::with_capacity(k);
        while v.len() < k {
            let p = rng.weighted(&self.cum);
            let prod = &self.products[p];
            if prod.company != 0 && prod.company != company {
                continue;
            }
            let q = if prod.weighed {
                rng.range(250, 3000)
            } else {
                match rng.below(20) {
                    0..=11 => 1000,
                    12..=15 => 2000,
                    16..=17 => 3000,
                    _ => rng.range(4, 12) * 1000,
                }
            };
            let disc = if rng.chance(0.08) { *rng.pick(&[5i64, 10, 15, 20, 25, 50]) } else { 0 };
            v.push((p, q, prod.price_cents, disc));
        }
        v
    }

    /// The pos.order.line rows, with integer-cent arithmetic so that totals add up exactly.
    /// Returns the order's total (VAT included), its total excluding VAT, and the line ids.
    fn put_lines(&mut self, c: &mut Ctx, own: &Owner, lines: &[Line]) -> (i64, i64, Vec<u32>) {
        let [lorder, lprod, lname, lqty, lprice, ldisc, lsub, lincl, ltax, lcomp] = self.lc;
        let first_line = self.next_line;
        let (mut total, mut excl) = (0i64, 0i64);
        for &(p, q, pr, disc) in lines {
            let prod = &self.products[p];
            let sub = div_round(q * pr * (100 - disc), 100_000);
            let incl = if prod.exempt { sub } else { div_round(sub * 112, 100) };
            total += incl;
            excl += sub;
            let mut r = blank(self.ldef);
            r[lorder] = Val::M2o(own.order);
            r[lprod] = Val::M2o(prod.id);
            r[lname] = Val::Str(prod.name.clone());
            r[lqty] = Val::Float(q as f64 / 1000.0);
            r[lprice] = money(pr);
            r[ldisc] = Val::Float(disc as f64);
            r[lsub] = money(sub);
            r[lincl] = money(incl);
            let ti = (own.company as usize - 1) + if prod.exempt { 2 } else { 0 };
            r[ltax] = Val::Ids(self.tax_of[ti].clone());
            r[lcomp] = Val::M2o(own.company);
            c.stamp(self.ldef, &mut r, own.created, own.created);
            c.store.tables[self.li].upsert(self.next_line, r);
            self.next_line += 1;
        }
        (total, excl, (first_line..self.next_line).collect())
    }

    /// The payments of a paid order, as (method, amount in cents, is_change), with the cash
    /// change and the method a refund of this order would use. A refund pays back by its
    /// original's method; otherwise cash (often in round bills, the change as a negative
    /// payment), card, GCash or Maya, sometimes split with cash.
    fn draw_payments(
        &self,
        rng: &mut Rng,
        store: usize,
        company: u32,
        total: i64,
        refund_of: Option<&PastOrder>,
    ) -> (Vec<Payment>, i64, u32) {
        let cash = self.cash[store];
        let mut pays: Vec<Payment> = Vec::new();
        if let Some(orig) = refund_of {
            pays.push((orig.method, total, false));
            return (pays, 0, cash);
        }
        let r_ = rng.unit();
        let kind = if r_ < 0.55 {
            None
        } else if r_ < 0.80 {
            Some(0)
        } else if r_ < 0.92 {
            Some(1)
        } else {
            Some(2)
        };
        match kind {
            None => {
                let mut change = 0i64;
                if rng.chance(0.5) && total > 0 {
                    let bill = *rng.pick(&[2_000i64, 5_000, 10_000, 50_000, 100_000]);
                    let tendered = ((total + bill - 1) / bill) * bill;
                    change = tendered - total;
                    pays.push((cash, tendered, false));
                    if change > 0 {
                        pays.push((cash, -change, true));
                    }
                } else {
                    pays.push((cash, total, false));
                }
                (pays, change, cash)
            }
            Some(k) => {
                let m = method_id(self.n_stores, company, k);
                if rng.chance(0.12) && total > 20_000 {
                    // Split: part by e-wallet or card, the rest in cash.
                    let part = (total * rng.range(30, 70) / 100) / 100 * 100;
                    pays.push((m, part, false));
                    pays.push((cash, total - part, false));
                } else {
                    pays.push((m, total, false));
                }
                (pays, 0, m)
            }
        }
    }

    /// The pos.payment rows, each dated within seconds of the order. Returns their ids.
    fn put_payments(&mut self, c: &mut Ctx, rng: &mut Rng, own: &Owner, when: i64, pays: &[Payment]) -> Vec<u32> {
        let [porder, pmethod, pamount, pdate, psession, pchange, pcomp] = self.pc;
        let first_pay = self.next_pay;
        for &(m, amount, is_change) in pays {
            let mut r = blank(self.pdef);
            r[porder] = Val::M2o(own.order);
            r[pmethod] = Val::M2o(m);
            r[pamount] = money(amount);
            r[pdate] = Val::Dt(when + rng.range(0, 3) * MICROS);
            r[psession] = Val::M2o(own.session);
            r[pchange] = Val::Bool(is_change);
            r[pcomp] = Val::M2o(own.company);
            c.stamp(self.pdef, &mut r, own.created, own.created);
            c.store.tables[self.pi].upsert(self.next_pay, r);
            self.next_pay += 1;
        }
        (first_pay..self.next_pay).collect()
    }

    /// The customer: always one for an invoiced order, else on about a third of the orders;
    /// regulars (low ids after the company and admin partners) come more often. Counted for
    /// customer_rank.
    fn draw_partner(&mut self, rng: &mut Rng, state: State) -> Val {
        if state == State::Invoiced || rng.chance(0.35) {
            let n_partners = self.n_partners;
            let k = 4 + ((n_partners as f64 - 4.0) * rng.unit().powi(2)) as u32;
            self.partner_orders[k.min(n_partners) as usize] += 1;
            Val::M2o(k.min(n_partners))
        } else {
            Val::False
        }
    }

    /// Keeps a paid order as one a later order of its store may refund: at most 400 per store,
    /// a random one replaced when full.
    fn remember(&mut self, rng: &mut Rng, store: usize, order: PastOrder) {
        let past = &mut self.past[store];
        if past.len() >= 400 {
            let k = rng.below(400) as usize;
            past.swap_remove(k);
        }
        past.push(order);
    }
}

/// When an order was last written: a done order by its session's close transaction, an
/// invoiced or cancelled one by a later transaction of its own (drawn on every version; Odoo
/// 19 keeps an invoiced order done, stamped by its session's close), others at creation.
fn written_at(rng: &mut Rng, state: State, created: i64, closed_at: Option<i64>, has_invoiced: bool) -> i64 {
    match state {
        State::Done => closed_at.unwrap_or(created),
        State::Invoiced | State::Cancel => {
            let later = tx_at(created + rng.range(30, 1800) * MICROS, rng);
            if state == State::Invoiced && !has_invoiced {
                closed_at.unwrap_or(created)
            } else {
                later
            }
        }
        State::Draft | State::Paid => created,
    }
}

/// customer_rank counts each partner's orders, as the POS does.
fn set_customer_ranks(c: &mut Ctx, partner_orders: &[i64]) {
    let crank = c.def("res.partner").col_of("customer_rank");
    let rt = c.table("res.partner");
    for (id, &k) in partner_orders.iter().enumerate().skip(1) {
        if k > 0 {
            if let Some(r) = rt.row_of(id as u32) {
                rt.set(r, crank, Val::Int(k));
            }
        }
    }
}
