//! Silver and gold, end to end. Every expected figure is recomputed here, independently, from
//! what the simulator serves over JSON-RPC (never from our tables), following the documented
//! rules (README "Silver and gold"), and compared exactly: money and quantities are exact
//! decimals (i128 micro-units parsed from the JSON number text), never f64 arithmetic.

use odoo_sync_tests::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::ops::{Add, AddAssign, Neg, Sub};

// ------------------------------------------------------------------------------------------
// Exact decimals
// ------------------------------------------------------------------------------------------

/// A decimal as value × 10^6 (Odoo amounts have 2 decimals, quantities 3).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
struct Dec(i128);

const MICRO: i128 = 1_000_000;

impl Dec {
    /// Parses a decimal text ("1202.11", "-0.5", "7", "1e-7"); panics on more than 6 decimals.
    fn parse(text: &str) -> Dec {
        let t = text.trim();
        let (mant, exp) = match t.find(['e', 'E']) {
            Some(i) => (&t[..i], t[i + 1..].parse::<i32>().unwrap()),
            None => (t, 0),
        };
        let (neg, mant) = match mant.strip_prefix('-') {
            Some(m) => (true, m),
            None => (false, mant.strip_prefix('+').unwrap_or(mant)),
        };
        let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
        let mut v: i128 = format!("{int}{frac}").parse().unwrap_or_else(|_| panic!("not a decimal: {text:?}"));
        let mut scale = frac.len() as i32 - exp;
        while scale > 6 {
            assert!(v % 10 == 0, "{text} has more than 6 decimals");
            v /= 10;
            scale -= 1;
        }
        while scale < 6 {
            v *= 10;
            scale += 1;
        }
        Dec(if neg { -v } else { v })
    }

    /// A JSON number exactly as Odoo wrote it (serde prints the shortest representation, which
    /// is the text Odoo sent).
    fn of(v: &Value) -> Dec {
        match v {
            Value::Number(n) => Dec::parse(&n.to_string()),
            other => panic!("expected a number, got {other}"),
        }
    }

    fn abs(self) -> Dec {
        Dec(self.0.abs())
    }

    fn is_neg(self) -> bool {
        self.0 < 0
    }

    /// As a JSON number for writing to Odoo (the shortest text of the same value).
    fn json(self) -> Value {
        json!(self.to_string().parse::<f64>().unwrap())
    }
}

impl Add for Dec {
    type Output = Dec;
    fn add(self, o: Dec) -> Dec {
        Dec(self.0 + o.0)
    }
}
impl Sub for Dec {
    type Output = Dec;
    fn sub(self, o: Dec) -> Dec {
        Dec(self.0 - o.0)
    }
}
impl Neg for Dec {
    type Output = Dec;
    fn neg(self) -> Dec {
        Dec(-self.0)
    }
}
impl AddAssign for Dec {
    fn add_assign(&mut self, o: Dec) {
        self.0 += o.0;
    }
}
impl std::iter::Sum for Dec {
    fn sum<I: Iterator<Item = Dec>>(it: I) -> Dec {
        it.fold(Dec(0), |a, b| a + b)
    }
}
/// Canonical text: no trailing zeros ("7", "1202.1", "-0.25").
impl fmt::Display for Dec {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let a = self.0.abs();
        let frac = format!("{:06}", a % MICRO);
        let frac = frac.trim_end_matches('0');
        if frac.is_empty() {
            write!(f, "{sign}{}", a / MICRO)
        } else {
            write!(f, "{sign}{}.{frac}", a / MICRO)
        }
    }
}
impl fmt::Debug for Dec {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// One cent, the documented data-quality tolerance.
const CENT: Dec = Dec(10_000);

/// |qty × price × (1 − discount/100) − total| > 0.01, exactly (scaled to 10^-20).
fn line_total_off(qty: Dec, price: Dec, disc: Dec, total: Dec) -> bool {
    let expected = qty.0 * price.0 * (100 * MICRO - disc.0); // × 10^-20
    let got = total.0 * 100_000_000_000_000; // 10^-6 → 10^-20
    (expected - got).abs() > CENT.0 * 100_000_000_000_000
}

// ------------------------------------------------------------------------------------------
// Dates: Odoo sends naive UTC "YYYY-MM-DD HH:MM:SS"; business days are local.
// ------------------------------------------------------------------------------------------

/// The local business date and hour of a UTC Odoo datetime, for a fixed UTC offset.
fn local_day_hour(utc: &str, offset_secs: i64) -> (String, i64) {
    use chrono::{NaiveDateTime, TimeDelta, Timelike};
    let local = NaiveDateTime::parse_from_str(utc, "%Y-%m-%d %H:%M:%S")
        .unwrap_or_else(|_| panic!("bad datetime {utc}"))
        + TimeDelta::seconds(offset_secs);
    (local.date().to_string(), i64::from(local.hour()))
}

// ------------------------------------------------------------------------------------------
// What Odoo (the simulator) has, read over JSON-RPC
// ------------------------------------------------------------------------------------------

fn m2o(v: &Value) -> Option<i64> {
    v.as_array().map(|a| a[0].as_i64().unwrap())
}

fn m2o_name(v: &Value) -> Option<String> {
    v.as_array().map(|a| a[1].as_str().unwrap().to_owned())
}

fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::to_owned)
}

struct OLine {
    order: i64,
    product: i64,
    qty: Dec,
    price: Dec,
    disc: Dec,
    sub: Dec,
    incl: Dec,
}

struct OOrder {
    name: String,
    date: String,
    config: i64,
    company: i64,
    state: String,
    total: Dec,
    tax: Dec,
    paid: Dec,
    lines: Vec<i64>,
    session: i64,
}

struct OPay {
    order: i64,
    method: i64,
    amount: Dec,
    change: bool,
}

struct Odoo {
    categories: HashMap<i64, (String, String)>,
    /// product -> (category, brand name when the OCA field exists and is set)
    products: HashMap<i64, (i64, Option<String>)>,
    methods: HashMap<i64, (String, String)>,
    configs: BTreeMap<i64, String>,
    orders: BTreeMap<i64, OOrder>,
    lines: BTreeMap<i64, OLine>,
    payments: BTreeMap<i64, OPay>,
    partners: usize,
}

fn read_all(sim: &Sim, model: &str, fields: &[&str]) -> Vec<Value> {
    let v = sim.execute(
        model,
        "search_read",
        json!([[]]),
        json!({"fields": fields, "order": "id asc", "context": {"active_test": false}}),
    );
    v.as_array().unwrap().clone()
}

fn read_odoo(sim: &Sim) -> Odoo {
    let with_brand = sim.field_names("product.product").iter().any(|f| f == "product_brand_id");
    let categories = read_all(sim, "product.category", &["name", "complete_name"])
        .iter()
        .map(|r| (r["id"].as_i64().unwrap(), (text(&r["name"]).unwrap(), text(&r["complete_name"]).unwrap())))
        .collect();
    let pfields: &[&str] = if with_brand { &["categ_id", "product_brand_id"] } else { &["categ_id"] };
    let products = read_all(sim, "product.product", pfields)
        .iter()
        .map(|r| {
            (r["id"].as_i64().unwrap(), (m2o(&r["categ_id"]).unwrap(), r.get("product_brand_id").and_then(m2o_name)))
        })
        .collect();
    let methods = read_all(sim, "pos.payment.method", &["name", "type"])
        .iter()
        .map(|r| (r["id"].as_i64().unwrap(), (text(&r["name"]).unwrap(), text(&r["type"]).unwrap_or_default())))
        .collect();
    let configs = read_all(sim, "pos.config", &["name"])
        .iter()
        .map(|r| (r["id"].as_i64().unwrap(), text(&r["name"]).unwrap()))
        .collect();
    let orders = read_all(
        sim,
        "pos.order",
        &[
            "name",
            "date_order",
            "config_id",
            "company_id",
            "session_id",
            "state",
            "amount_total",
            "amount_tax",
            "amount_paid",
            "lines",
        ],
    )
    .iter()
    .map(|r| {
        (
            r["id"].as_i64().unwrap(),
            OOrder {
                name: text(&r["name"]).unwrap(),
                date: text(&r["date_order"]).unwrap(),
                config: m2o(&r["config_id"]).unwrap(),
                company: m2o(&r["company_id"]).unwrap(),
                session: m2o(&r["session_id"]).unwrap(),
                state: text(&r["state"]).unwrap(),
                total: Dec::of(&r["amount_total"]),
                tax: Dec::of(&r["amount_tax"]),
                paid: Dec::of(&r["amount_paid"]),
                lines: r["lines"].as_array().unwrap().iter().map(|x| x.as_i64().unwrap()).collect(),
            },
        )
    })
    .collect();
    let lines = read_all(
        sim,
        "pos.order.line",
        &["order_id", "product_id", "qty", "price_unit", "discount", "price_subtotal", "price_subtotal_incl"],
    )
    .iter()
    .map(|r| {
        (
            r["id"].as_i64().unwrap(),
            OLine {
                order: m2o(&r["order_id"]).unwrap(),
                product: m2o(&r["product_id"]).unwrap(),
                qty: Dec::of(&r["qty"]),
                price: Dec::of(&r["price_unit"]),
                disc: Dec::of(&r["discount"]),
                sub: Dec::of(&r["price_subtotal"]),
                incl: Dec::of(&r["price_subtotal_incl"]),
            },
        )
    })
    .collect();
    let payments = read_all(sim, "pos.payment", &["pos_order_id", "payment_method_id", "amount", "is_change"])
        .iter()
        .map(|r| {
            (
                r["id"].as_i64().unwrap(),
                OPay {
                    order: m2o(&r["pos_order_id"]).unwrap(),
                    method: m2o(&r["payment_method_id"]).unwrap(),
                    amount: Dec::of(&r["amount"]),
                    change: r["is_change"].as_bool().unwrap(),
                },
            )
        })
        .collect();
    let partners = sim.count("res.partner") as usize;
    Odoo { categories, products, methods, configs, orders, lines, payments, partners }
}

// ------------------------------------------------------------------------------------------
// The expected silver and gold, computed from Odoo's data by the documented rules
// ------------------------------------------------------------------------------------------

fn status_of(state: &str) -> &'static str {
    match state {
        "draft" => "pending",
        "paid" | "done" | "invoiced" => "completed",
        "cancel" => "cancelled",
        _ => "unknown",
    }
}

/// The simulator's payment methods and the documented categories.
fn method_category(name: &str, kind: &str) -> &'static str {
    match (kind, name) {
        ("cash", _) => "cash",
        (_, "GCash") | (_, "Maya") => "e-wallet",
        ("pay_later", _) => "other",
        ("bank", "Card") | ("bank", "Visa Debit") => "card",
        other => panic!("payment method {other:?}: teach this test its documented category"),
    }
}

#[derive(Default)]
struct Expected {
    rejects: BTreeSet<(String, i64, String)>,
    transactions: BTreeMap<i64, String>,
    items: BTreeMap<i64, String>,
    payments: usize,
    daily: BTreeMap<(i64, String), String>,
    /// (company, business day) -> stores, counts and money of its stores' days
    company_daily: BTreeMap<(i64, String), String>,
    hourly: BTreeMap<(i64, String, i64), String>,
    products: BTreeMap<(i64, String, i64), String>,
    categories: BTreeMap<(i64, String, i64), String>,
    category_revenue: BTreeMap<(i64, String, i64), Dec>,
    brands: BTreeMap<(i64, String, String), String>,
    brand_revenue: BTreeMap<(i64, String, String), Dec>,
    line_revenue_per_day: BTreeMap<(i64, String), Dec>,
    payment_mix: BTreeMap<(i64, String, String), String>,
    baskets: BTreeMap<(i64, String), String>,
    trends_all_stores: BTreeMap<String, String>,
    product_totals: BTreeMap<i64, String>,
}

fn is_refund(o: &OOrder) -> bool {
    o.total.is_neg() || o.name.trim_end().to_uppercase().ends_with("REFUND")
}

// The per-view accumulators are tuples of the view's columns, named where they are filled.
#[allow(clippy::type_complexity)]
fn expected(odoo: &Odoo, tz: &str, tz_offset: i64) -> Expected {
    let mut e = Expected::default();
    // Lines: the rules, then the items that pass.
    let mut valid_lines: BTreeMap<i64, &OLine> = BTreeMap::new();
    for (&id, l) in &odoo.lines {
        let order = &odoo.orders[&l.order];
        let mut ok = true;
        if line_total_off(l.qty, l.price, l.disc, l.sub) && line_total_off(l.qty, l.price, l.disc, l.incl) {
            e.rejects.insert(("pos.order.line".into(), id, "line_total_mismatch".into()));
            ok = false;
        }
        if l.qty.is_neg() && !is_refund(order) {
            e.rejects.insert(("pos.order.line".into(), id, "negative_qty_not_refund".into()));
            ok = false;
        }
        if ok {
            valid_lines.insert(id, l);
        }
    }
    let cat_of = |product: i64| -> (i64, String, String, String) {
        let (categ, brand) = &odoo.products[&product];
        let (name, path) = &odoo.categories[categ];
        (*categ, name.clone(), path.clone(), brand.clone().unwrap_or_else(|| "Unknown".into()))
    };
    for (&id, l) in &valid_lines {
        let (categ, name, path, brand) = cat_of(l.product);
        e.items.insert(
            id,
            format!(
                "{}|{}|{categ}|{name}|{path}|{brand}|{}|{}|{}|{}|{}",
                l.order, l.product, l.qty, l.price, l.disc, l.sub, l.incl
            ),
        );
    }
    // Orders: the rules, then what their valid lines and payments give them.
    let mut lines_of: BTreeMap<i64, Vec<(i64, &OLine)>> = BTreeMap::new();
    for (&id, l) in &valid_lines {
        lines_of.entry(l.order).or_default().push((id, l));
    }
    let mut pays_of: BTreeMap<i64, Vec<&OPay>> = BTreeMap::new();
    for p in odoo.payments.values() {
        pays_of.entry(p.order).or_default().push(p);
    }
    e.payments = odoo.payments.len();
    let mut valid_orders: Vec<i64> = Vec::new();
    for (&id, o) in &odoo.orders {
        let completed = status_of(&o.state) == "completed";
        let mut ok = true;
        if completed && o.lines.is_empty() {
            e.rejects.insert(("pos.order".into(), id, "order_without_lines".into()));
            ok = false;
        }
        let paid: Dec = pays_of.get(&id).map(|v| v.iter().map(|p| p.amount).sum()).unwrap_or_default();
        if completed && (paid - o.total).abs() > CENT {
            e.rejects.insert(("pos.order".into(), id, "payments_mismatch".into()));
            ok = false;
        }
        if !ok {
            continue;
        }
        valid_orders.push(id);
        let ls = lines_of.get(&id).map(Vec::as_slice).unwrap_or(&[]);
        let qty: Dec = ls.iter().map(|(_, l)| l.qty).sum();
        let (brand, category) = match ls.first() {
            Some((_, l)) => {
                let (_, name, _, brand) = cat_of(l.product);
                (brand, name)
            }
            None => ("Unknown".into(), "Unknown".into()),
        };
        let cats: BTreeSet<&str> = pays_of
            .get(&id)
            .map(|v| {
                v.iter()
                    .filter(|p| !p.change)
                    .map(|p| {
                        let (n, k) = &odoo.methods[&p.method];
                        method_category(n, k)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let method = match cats.len() {
            0 => "",
            1 => cats.iter().next().unwrap(),
            _ => "split",
        };
        e.transactions.insert(
            id,
            format!(
                "{}|{}|{}|{}|{}|{}|{}|{qty}|{}|{brand}|{category}|{method}|{}",
                status_of(&o.state),
                is_refund(o),
                o.config,
                o.date,
                o.total,
                o.tax,
                o.paid,
                ls.len(),
                o.name
            ),
        );
    }
    // Gold: completed orders (valid ones), in the business day of the time zone.
    let mut daily: BTreeMap<(i64, String), (i64, i64, i64, Dec, Dec, Dec, Dec)> = BTreeMap::new();
    let mut hourly: BTreeMap<(i64, String, i64), (i64, Dec)> = BTreeMap::new();
    let mut company_daily: BTreeMap<(i64, String), (BTreeSet<i64>, i64, i64, Dec, Dec, Dec)> = BTreeMap::new();
    let mut products: BTreeMap<(i64, String, i64), (Dec, Dec, Dec, i64)> = BTreeMap::new();
    let mut categories: BTreeMap<(i64, String, i64), (Dec, Dec, Dec, i64)> = BTreeMap::new();
    let mut brands: BTreeMap<(i64, String, String), (Dec, Dec, i64)> = BTreeMap::new();
    let mut pmix: BTreeMap<(i64, String, String), (i64, Dec)> = BTreeMap::new();
    let mut baskets: BTreeMap<(i64, String), (i64, Dec, Dec)> = BTreeMap::new();
    let mut all_stores: BTreeMap<String, (i64, Dec)> = BTreeMap::new();
    let mut product_totals: BTreeMap<i64, (Dec, Dec)> = BTreeMap::new();
    for id in valid_orders {
        let o = &odoo.orders[&id];
        if status_of(&o.state) != "completed" {
            continue;
        }
        let refund = is_refund(o);
        let (day, hour) = local_day_hour(&o.date, tz_offset);
        let ls = lines_of.get(&id).map(Vec::as_slice).unwrap_or(&[]);
        let qty: Dec = ls.iter().map(|(_, l)| l.qty).sum();
        let d = daily.entry((o.config, day.clone())).or_default();
        d.0 += 1;
        if refund {
            d.2 += 1;
            d.4 += -o.total;
        } else {
            d.1 += 1;
        }
        d.3 += o.total;
        d.5 += o.tax;
        d.6 += qty;
        let cd = company_daily.entry((o.company, day.clone())).or_default();
        cd.0.insert(o.config);
        cd.1 += 1;
        cd.2 += if refund { 1 } else { 0 };
        cd.3 += o.total;
        cd.4 += if refund { -o.total } else { Dec::default() };
        cd.5 += o.tax;
        let h = hourly.entry((o.config, day.clone(), hour)).or_default();
        h.0 += 1;
        h.1 += o.total;
        let a = all_stores.entry(day.clone()).or_default();
        a.0 += 1;
        a.1 += o.total;
        for (_, l) in ls {
            let (categ, _, _, brand) = cat_of(l.product);
            let p = products.entry((o.config, day.clone(), l.product)).or_default();
            p.0 += l.qty;
            p.1 += l.sub;
            p.2 += l.incl;
            p.3 += 1;
            let c = categories.entry((o.config, day.clone(), categ)).or_default();
            c.0 += l.qty;
            c.1 += l.sub;
            c.2 += l.incl;
            c.3 += 1;
            let b = brands.entry((o.config, day.clone(), brand)).or_default();
            b.0 += l.qty;
            b.1 += l.sub;
            b.2 += 1;
            *e.line_revenue_per_day.entry((o.config, day.clone())).or_default() += l.sub;
            let t = product_totals.entry(l.product).or_default();
            t.0 += l.qty;
            t.1 += l.sub;
        }
        let method = {
            let cats: BTreeSet<&str> = pays_of
                .get(&id)
                .map(|v| {
                    v.iter()
                        .filter(|p| !p.change)
                        .map(|p| {
                            let (n, k) = &odoo.methods[&p.method];
                            method_category(n, k)
                        })
                        .collect()
                })
                .unwrap_or_default();
            match cats.len() {
                0 => "none".to_owned(),
                1 => cats.iter().next().unwrap().to_string(),
                _ => "split".to_owned(),
            }
        };
        let pm = pmix.entry((o.config, day.clone(), method)).or_default();
        pm.0 += 1;
        pm.1 += o.total;
        if !refund {
            let b = baskets.entry((o.config, day.clone())).or_default();
            b.0 += 1;
            b.1 += qty;
            b.2 = if b.0 == 1 { qty } else { b.2.max(qty) };
        }
    }
    for (k, (n, sales, refunds, revenue, refunded, tax, items)) in daily {
        e.daily.insert(k, format!("{n}|{sales}|{refunds}|{revenue}|{refunded}|{tax}|{items}|{tz}"));
    }
    for (k, (stores, n, refunds, revenue, refunded, tax)) in company_daily {
        e.company_daily.insert(k, format!("{}|{n}|{refunds}|{revenue}|{refunded}|{tax}", stores.len()));
    }
    e.hourly = hourly.into_iter().map(|(k, (n, r))| (k, format!("{n}|{r}"))).collect();
    e.products = products.into_iter().map(|(k, (q, r, ri, n))| (k, format!("{q}|{r}|{ri}|{n}"))).collect();
    for (k, (q, r, ri, n)) in categories {
        e.category_revenue.insert(k.clone(), r);
        e.categories.insert(k, format!("{q}|{r}|{ri}|{n}"));
    }
    for (k, (q, r, n)) in brands {
        e.brand_revenue.insert(k.clone(), r);
        e.brands.insert(k, format!("{q}|{r}|{n}"));
    }
    e.payment_mix = pmix.into_iter().map(|(k, (n, r))| (k, format!("{n}|{r}"))).collect();
    e.baskets = baskets.into_iter().map(|(k, (n, q, m))| (k, format!("{n}|{q}|{m}"))).collect();
    e.trends_all_stores = all_stores.into_iter().map(|(k, (n, r))| (k, format!("{n}|{r}"))).collect();
    e.product_totals = product_totals.into_iter().map(|(k, (q, r))| (k, format!("{q}|{r}"))).collect();
    e
}

// ------------------------------------------------------------------------------------------
// Comparisons with our tables
// ------------------------------------------------------------------------------------------

fn assert_same<K: Ord + fmt::Debug, V: PartialEq + fmt::Debug>(
    what: &str,
    expected: &BTreeMap<K, V>,
    actual: &BTreeMap<K, V>,
) {
    let mut diffs = Vec::new();
    for (k, v) in expected {
        match actual.get(k) {
            None => diffs.push(format!("  missing {k:?}: expected {v:?}")),
            Some(a) if a != v => diffs.push(format!(
                "  {k:?}: expected {v:?}\n  {:width$}       got {a:?}",
                "",
                width = format!("{k:?}").len()
            )),
            _ => {}
        }
    }
    for (k, v) in actual {
        if !expected.contains_key(k) {
            diffs.push(format!("  unexpected {k:?}: {v:?}"));
        }
    }
    assert!(
        diffs.is_empty(),
        "{what}: {} of {} rows differ from Odoo's data:\n{}",
        diffs.len(),
        expected.len(),
        diffs.iter().take(8).cloned().collect::<Vec<_>>().join("\n")
    );
}

fn dec(r: &postgres::Row, i: usize) -> Dec {
    Dec::parse(&r.get::<_, String>(i))
}

fn opt_text(r: &postgres::Row, i: usize) -> String {
    r.get::<_, Option<String>>(i).unwrap_or_default()
}

/// Silver (live rows) and the quarantine equal what Odoo's data gives by the documented rules.
fn assert_silver(db: &Db, odoo: &Odoo, e: &Expected) {
    let mut c = db.connect();
    let rejects: BTreeSet<(String, i64, String)> = c
        .query("SELECT model, source_id, rule FROM scout.silver_rejects", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(rejects, e.rejects, "silver_rejects (model, id, rule) vs the rules applied to Odoo's data");
    let tx: BTreeMap<i64, String> = c
        .query(
            "SELECT source_id, status, is_refund, store_id, to_char(\"timestamp\" AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), \
                    gross_amount::text, tax_amount::text, net_amount::text, quantity::text, line_count, brand_name, \
                    product_category, payment_method, transaction_code, id, complete \
             FROM scout.transactions WHERE deleted_at IS NULL",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| {
            let id: i64 = r.get(0);
            assert_eq!(r.get::<_, String>(14), format!("TX-{id}"), "the reference's transaction id");
            assert!(r.get::<_, bool>(15), "order {id}: all its lines and payments are synced");
            (
                id,
                format!(
                    "{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}",
                    r.get::<_, String>(1),
                    r.get::<_, bool>(2),
                    r.get::<_, i64>(3),
                    r.get::<_, String>(4),
                    dec(r, 5),
                    dec(r, 6),
                    dec(r, 7),
                    dec(r, 8),
                    r.get::<_, i32>(9),
                    r.get::<_, String>(10),
                    r.get::<_, String>(11),
                    opt_text(r, 12),
                    r.get::<_, String>(13)
                ),
            )
        })
        .collect();
    assert!(!e.transactions.is_empty());
    assert_same("scout.transactions", &e.transactions, &tx);
    let items: BTreeMap<i64, String> = c
        .query(
            "SELECT source_id, order_id, product_id, category_id, product_category, category_path, brand_name, quantity::text, \
                    unit_price::text, discount_percent::text, line_total::text, line_total_incl::text \
             FROM scout.transaction_items WHERE deleted_at IS NULL",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.get(0),
                format!(
                    "{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}",
                    r.get::<_, i64>(1),
                    r.get::<_, i64>(2),
                    r.get::<_, i64>(3),
                    r.get::<_, String>(4),
                    opt_text(r, 5),
                    r.get::<_, String>(6),
                    dec(r, 7),
                    dec(r, 8),
                    dec(r, 9),
                    dec(r, 10),
                    dec(r, 11)
                ),
            )
        })
        .collect();
    assert!(!e.items.is_empty());
    assert_same("scout.transaction_items", &e.items, &items);
    // The other tables: one live row per Odoo record.
    let counts: Vec<i64> = [
        "scout.products",
        "scout.categories",
        "scout.payment_methods",
        "scout.stores",
        "scout.customers",
        "scout.payments",
    ]
    .iter()
    .map(|t| c.query_one(&format!("SELECT count(*) FROM {t} WHERE deleted_at IS NULL"), &[]).unwrap().get(0))
    .collect();
    let want =
        [odoo.products.len(), odoo.categories.len(), odoo.methods.len(), odoo.configs.len(), odoo.partners, e.payments];
    assert_eq!(
        counts,
        want.iter().map(|&n| n as i64).collect::<Vec<_>>(),
        "products, categories, methods, stores, customers, payments"
    );
}

/// A share rounded to 6 decimals is within half a unit of the exact part / total.
fn assert_share(what: &str, share: Dec, part: Dec, total: Dec) {
    let diff = share.0 * total.0 - part.0 * MICRO; // both × 10^-12
    assert!(2 * diff.abs() <= total.0.abs(), "{what}: share {share} but {part} / {total}");
}

/// Gold (after a refresh) equals the figures computed from Odoo's data.
fn assert_gold(db: &Db, e: &Expected) {
    let mut c = db.connect();
    let daily: BTreeMap<(i64, String), String> = c
        .query(
            "SELECT store_id, business_date::text, transaction_count, sales_count, refund_count, revenue::text, refunds::text, \
                    tax::text, items_sold::text, timezone FROM scout.gold_daily_sales",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| {
            (
                (r.get(0), r.get(1)),
                format!(
                    "{}|{}|{}|{}|{}|{}|{}|{}",
                    r.get::<_, i64>(2),
                    r.get::<_, i64>(3),
                    r.get::<_, i64>(4),
                    dec(r, 5),
                    dec(r, 6),
                    dec(r, 7),
                    dec(r, 8),
                    r.get::<_, String>(9)
                ),
            )
        })
        .collect();
    assert!(!e.daily.is_empty());
    assert_same("gold_daily_sales (per store per business day)", &e.daily, &daily);
    let company_daily: BTreeMap<(i64, String), String> = c
        .query(
            "SELECT company_id, business_date::text, store_count, transaction_count, refund_count, revenue::text, refunds::text, tax::text \
             FROM scout.gold_company_daily_sales",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| ((r.get(0), r.get(1)), format!("{}|{}|{}|{}|{}|{}", r.get::<_, i64>(2), r.get::<_, i64>(3), r.get::<_, i64>(4), dec(r, 5), dec(r, 6), dec(r, 7))))
        .collect();
    assert!(e.company_daily.keys().map(|k| k.0).collect::<BTreeSet<_>>().len() >= 2, "two companies in the data");
    assert_same("gold_company_daily_sales (per company per business day)", &e.company_daily, &company_daily);
    // Each store's daily row names the company its orders belong to.
    let wrong_company: Option<String> = c
        .query_one("SELECT string_agg(format('%s %s %s %s / %s %s', g.store_id, g.business_date, g.company_id, g.company_name, s.company_id, s.company_name), '; ') \
                    FROM scout.gold_daily_sales g JOIN scout.stores s ON s.id = g.store_id \
                    WHERE g.company_id IS DISTINCT FROM s.company_id OR g.company_name IS DISTINCT FROM s.company_name", &[])
        .unwrap()
        .get(0);
    assert_eq!(wrong_company, None);
    let hourly: BTreeMap<(i64, String, i64), String> = c
        .query("SELECT store_id, business_date::text, business_hour, transaction_count, revenue::text FROM scout.gold_hourly_transactions", &[])
        .unwrap()
        .iter()
        .map(|r| ((r.get(0), r.get(1), r.get::<_, i32>(2) as i64), format!("{}|{}", r.get::<_, i64>(3), dec(r, 4))))
        .collect();
    assert_same("gold_hourly_transactions", &e.hourly, &hourly);
    let products: BTreeMap<(i64, String, i64), String> = c
        .query("SELECT store_id, business_date::text, product_id, quantity::text, revenue::text, revenue_incl_tax::text, line_count FROM scout.gold_product_mix", &[])
        .unwrap()
        .iter()
        .map(|r| ((r.get(0), r.get(1), r.get(2)), format!("{}|{}|{}|{}", dec(r, 3), dec(r, 4), dec(r, 5), r.get::<_, i64>(6))))
        .collect();
    assert_same("gold_product_mix", &e.products, &products);
    let mut shares = Vec::new();
    let categories: BTreeMap<(i64, String, i64), String> = c
        .query(
            "SELECT store_id, business_date::text, category_id, quantity::text, revenue::text, revenue_incl_tax::text, line_count, \
                    revenue_share::text FROM scout.gold_category_mix",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| {
            let k: (i64, String, i64) = (r.get(0), r.get(1), r.get(2));
            shares.push((k.clone(), r.get::<_, Option<String>>(7).map(|s| Dec::parse(&s))));
            (k, format!("{}|{}|{}|{}", dec(r, 3), dec(r, 4), dec(r, 5), r.get::<_, i64>(6)))
        })
        .collect();
    assert_same("gold_category_mix", &e.categories, &categories);
    for (k, share) in shares {
        let total = e.line_revenue_per_day[&(k.0, k.1.clone())];
        match share {
            Some(s) => assert_share(&format!("category share {k:?}"), s, e.category_revenue[&k], total),
            None => assert_eq!(total, Dec(0), "category share {k:?} is NULL only for a zero total"),
        }
    }
    let mut shares = Vec::new();
    let brands: BTreeMap<(i64, String, String), String> = c
        .query("SELECT store_id, business_date::text, brand_name, quantity::text, revenue::text, line_count, revenue_share::text FROM scout.gold_brand_mix", &[])
        .unwrap()
        .iter()
        .map(|r| {
            let k: (i64, String, String) = (r.get(0), r.get(1), r.get(2));
            shares.push((k.clone(), r.get::<_, Option<String>>(6).map(|s| Dec::parse(&s))));
            (k, format!("{}|{}|{}", dec(r, 3), dec(r, 4), r.get::<_, i64>(5)))
        })
        .collect();
    assert_same("gold_brand_mix", &e.brands, &brands);
    for (k, share) in shares {
        let total = e.line_revenue_per_day[&(k.0, k.1.clone())];
        match share {
            Some(s) => assert_share(&format!("brand share {k:?}"), s, e.brand_revenue[&k], total),
            None => assert_eq!(total, Dec(0)),
        }
    }
    let pmix: BTreeMap<(i64, String, String), String> = c
        .query("SELECT store_id, business_date::text, payment_method, transaction_count, revenue::text FROM scout.gold_payment_mix", &[])
        .unwrap()
        .iter()
        .map(|r| ((r.get(0), r.get(1), r.get(2)), format!("{}|{}", r.get::<_, i64>(3), dec(r, 4))))
        .collect();
    assert_same("gold_payment_mix", &e.payment_mix, &pmix);
    let baskets: BTreeMap<(i64, String), String> = c
        .query("SELECT store_id, business_date::text, basket_count, items_total::text, max_items::text FROM scout.gold_basket_size", &[])
        .unwrap()
        .iter()
        .map(|r| ((r.get(0), r.get(1)), format!("{}|{}|{}", r.get::<_, i64>(2), dec(r, 3), dec(r, 4))))
        .collect();
    assert_same("gold_basket_size", &e.baskets, &baskets);
    let trends: BTreeMap<String, String> = c
        .query("SELECT business_date::text, transaction_count::bigint, revenue::text FROM scout.v_tx_trends WHERE store_id IS NULL AND store_name = 'All stores'", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), format!("{}|{}", r.get::<_, i64>(1), dec(r, 2))))
        .collect();
    assert_same("v_tx_trends (all stores)", &e.trends_all_stores, &trends);
    let mix: BTreeMap<i64, String> = c
        .query("SELECT product_id, quantity::text, revenue::text FROM scout.v_product_mix", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), format!("{}|{}", dec(r, 1), dec(r, 2))))
        .collect();
    assert_same("v_product_mix", &e.product_totals, &mix);
}

fn refresh_gold(db: &Db) {
    db.connect().batch_execute("SELECT scout.refresh_gold()").unwrap();
}

fn sync_all_ok(db: &Db, args: &str) -> Vec<Summary> {
    let rows = sync_all(db, args);
    for r in &rows {
        assert_eq!(r.status, "success", "{r:?}");
    }
    rows
}

fn run_of<'a>(rows: &'a [Summary], model: &str) -> &'a Summary {
    rows.iter().find(|r| r.model == model).unwrap()
}

fn logged_rejected(db: &Db, run_id: Option<i64>) -> i64 {
    db.connect().query_one("SELECT rejected FROM scout.sync_logs WHERE id = $1", &[&run_id.unwrap()]).unwrap().get(0)
}

/// Syncs everything, refreshes gold and compares silver, quarantine and gold with Odoo's data.
fn sync_and_check(db: &Db, sim: &Sim, tz: &str, offset: i64) -> (Odoo, Expected) {
    sync_all_ok(db, "");
    refresh_gold(db);
    let odoo = read_odoo(sim);
    let e = expected(&odoo, tz, offset);
    assert_silver(db, &odoo, &e);
    assert_gold(db, &e);
    (odoo, e)
}

fn write(sim: &Sim, model: &str, id: i64, vals: Value) {
    sim.execute(model, "write", json!([[id], vals]), json!({}));
}

// ------------------------------------------------------------------------------------------
// Tests
// ------------------------------------------------------------------------------------------

/// With the OCA brand field and the custom region code, and business days in a time zone 14
/// hours ahead of UTC (many evening sales fall on the next local day).
#[test]
fn silver_and_gold_equal_odoo_with_brand_and_region_in_a_shifted_time_zone() {
    let sim = Sim::start(&["--orders", "500", "--seed", "21", "--with-brand", "--with-region-code"]);
    let db = Cluster::shared().create_db("sg_brand");
    db.configure(&sim, &[("odoo_sync.timezone", "Pacific/Kiritimati")]);
    let (odoo, e) = sync_and_check(&db, &sim, "Pacific/Kiritimati", 14 * 3600);
    assert!(e.rejects.is_empty(), "the generated data is clean: {:?}", e.rejects);
    // The data exercises what it should: refunds, several categories and brands, split payments.
    assert!(odoo.orders.values().any(is_refund), "no refund in the data");
    assert!(
        e.brands.keys().map(|k| &k.2).collect::<BTreeSet<_>>().len() > 5,
        "brands: {:?}",
        e.brands.keys().take(3).collect::<Vec<_>>()
    );
    assert!(e.payment_mix.keys().any(|k| k.2 == "split"));
    // The time zone moved sales across midnight: some business day differs from the UTC day.
    let shifted = odoo.orders.values().filter(|o| local_day_hour(&o.date, 14 * 3600).0 != o.date[..10]).count();
    assert!(shifted > 0, "no order crosses midnight in this time zone: the check would not see a UTC bug");
    let mut c = db.connect();
    let regions: i64 =
        c.query_one("SELECT count(*) FROM scout.customers WHERE region_code IS NOT NULL", &[]).unwrap().get(0);
    assert!(regions > 0, "region codes land in scout.customers");
    let unknown: i64 =
        c.query_one("SELECT count(*) FROM scout.products WHERE brand_name <> 'Unknown'", &[]).unwrap().get(0);
    assert!(unknown > 0, "brands land in scout.products");
    // Archived products and contacts stay in silver, flagged.
    for (model, table) in [("product.product", "scout.products"), ("res.partner", "scout.customers")] {
        let archived = sim
            .execute(
                model,
                "search_count",
                json!([[["active", "=", false]]]),
                json!({"context": {"active_test": false}}),
            )
            .as_i64()
            .unwrap();
        let flagged: i64 = c
            .query_one(&format!("SELECT count(*) FROM {table} WHERE NOT active AND deleted_at IS NULL"), &[])
            .unwrap()
            .get(0);
        assert!(archived > 0, "{model}: the data has archived records");
        assert_eq!(flagged, archived, "{table}: archived records kept and flagged");
    }
}

/// Without the optional fields (brand 'Unknown', no region) and without a time zone setting
/// (UTC), everything works the same.
#[test]
fn silver_and_gold_equal_odoo_without_optional_fields_in_utc() {
    let sim = Sim::start(&["--orders", "400", "--seed", "22"]);
    let db = Cluster::shared().create_db("sg_plain");
    db.configure(&sim, &[]);
    let (_, e) = sync_and_check(&db, &sim, "UTC", 0);
    assert!(e.brands.keys().all(|k| k.2 == "Unknown"));
    let mut c = db.connect();
    let regions: i64 =
        c.query_one("SELECT count(*) FROM scout.customers WHERE region_code IS NOT NULL", &[]).unwrap().get(0);
    assert_eq!(regions, 0);
    let branded: i64 =
        c.query_one("SELECT count(*) FROM scout.transaction_items WHERE brand_name <> 'Unknown'", &[]).unwrap().get(0);
    assert_eq!(branded, 0);
}

/// A price fix, a cancellation, a refund, new orders, a product moving category, a category
/// renamed and a payment method renamed: silver follows after the next sync, gold only after
/// the next refresh, and both equal Odoo's data.
#[test]
fn changes_in_odoo_reach_silver_after_the_sync_and_gold_after_the_refresh() {
    let sim = Sim::start(&["--orders", "400", "--seed", "23", "--with-brand"]);
    let db = Cluster::shared().create_db("sg_changes");
    db.configure(&sim, &[("odoo_sync.timezone", "Asia/Manila")]);
    let (odoo, before) = sync_and_check(&db, &sim, "Asia/Manila", 8 * 3600);

    // Candidates: completed sales with one payment (no change) whose lines are simple.
    let pays_of = |o: i64| odoo.payments.iter().filter(|(_, p)| p.order == o).map(|(id, _)| *id).collect::<Vec<_>>();
    let simple: Vec<i64> = odoo
        .orders
        .iter()
        .filter(|(id, o)| {
            status_of(&o.state) == "completed" && !is_refund(o) && pays_of(**id).len() == 1 && o.lines.len() >= 2
        })
        .map(|(id, _)| *id)
        .collect();
    assert!(simple.len() >= 3);
    // 1. A price fix: one line's unit price +1.00, with its totals, the order and its payment
    //    (a line with a whole quantity and no discount, so that the fix is whole cents).
    let (fix_id, lid) = simple
        .iter()
        .find_map(|o| {
            odoo.orders[o]
                .lines
                .iter()
                .find(|l| odoo.lines[l].qty.0 % MICRO == 0 && odoo.lines[l].disc == Dec(0))
                .map(|l| (*o, *l))
        })
        .expect("a simple line to fix");
    let others: Vec<i64> = simple.iter().copied().filter(|o| *o != fix_id).collect();
    let (cancel_id, refund_of) = (others[0], others[1]);
    let fix = &odoo.orders[&fix_id];
    let l = &odoo.lines[&lid];
    let d_sub = l.qty; // qty × 1.00
    let d_incl = if l.incl == l.sub { d_sub } else { Dec(d_sub.0 * 112 / 100) };
    write(
        &sim,
        "pos.order.line",
        lid,
        json!({"price_unit": (l.price + Dec(MICRO)).json(), "price_subtotal": (l.sub + d_sub).json(), "price_subtotal_incl": (l.incl + d_incl).json()}),
    );
    write(
        &sim,
        "pos.order",
        fix_id,
        json!({"amount_total": (fix.total + d_incl).json(), "amount_tax": (fix.tax + d_incl - d_sub).json(), "amount_paid": (fix.paid + d_incl).json()}),
    );
    let pid = pays_of(fix_id)[0];
    write(&sim, "pos.payment", pid, json!({"amount": (odoo.payments[&pid].amount + d_incl).json()}));
    // 2. A cancellation.
    write(&sim, "pos.order", cancel_id, json!({"state": "cancel"}));
    // 3. A refund of a whole order, made as the POS does: "<name> REFUND", negative lines.
    let orig = &odoo.orders[&refund_of];
    let lines: Vec<Value> = orig
        .lines
        .iter()
        .map(|id| {
            let l = &odoo.lines[id];
            json!([0, 0, {"product_id": l.product, "qty": (-l.qty).json(), "price_unit": l.price.json(), "discount": l.disc.json(),
                          "price_subtotal": (-l.sub).json(), "price_subtotal_incl": (-l.incl).json()}])
        })
        .collect();
    let method = odoo.payments[&pays_of(refund_of)[0]].method;
    let refund_id = sim
        .execute(
            "pos.order",
            "create",
            json!([{"name": format!("{} REFUND", orig.name), "session_id": orig.session, "state": "paid",
                    "amount_total": (-orig.total).json(), "amount_tax": (-orig.tax).json(), "amount_paid": (-orig.total).json(),
                    "lines": lines, "payment_ids": [[0, 0, {"payment_method_id": method, "amount": (-orig.total).json()}]]}]),
            json!({}),
        )
        .as_i64()
        .unwrap();
    // 4. New orders from the POS.
    let created = sim.mutate("pos.order", "create", 3);
    assert_eq!(created["ids"].as_array().unwrap().len(), 3);
    // 5. A sold product moves to another category; a category is renamed; a method is renamed.
    let moved = odoo.lines.values().next().unwrap().product;
    let old_categ = odoo.products[&moved].0;
    let new_categ =
        *odoo.categories.keys().find(|c| **c != old_categ && odoo.products.values().any(|p| p.0 == **c)).unwrap();
    write(&sim, "product.product", moved, json!({"categ_id": new_categ}));
    let renamed = odoo.products[&odoo.lines.values().nth(5).unwrap().product].0;
    write(&sim, "product.category", renamed, json!({"name": "Renamed Category"}));
    let maya = *odoo.methods.iter().find(|(_, m)| m.0 == "Maya").unwrap().0;
    write(&sim, "pos.payment.method", maya, json!({"name": "Visa Debit"}));
    sim.advance_clock(5.0);

    // Gold before the sync and refresh.
    let gold_before: Vec<(i64, String, String)> = db
        .connect()
        .query("SELECT store_id, business_date::text, revenue::text FROM scout.gold_daily_sales ORDER BY 1, 2", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    sync_all_ok(&db, "");
    let odoo2 = read_odoo(&sim);
    let after = expected(&odoo2, "Asia/Manila", 8 * 3600);
    assert_silver(&db, &odoo2, &after);
    let mut c = db.connect();
    let status: String =
        c.query_one("SELECT status FROM scout.transactions WHERE source_id = $1", &[&cancel_id]).unwrap().get(0);
    assert_eq!(status, "cancelled");
    let refund: (bool, String) = c
        .query_one("SELECT is_refund, gross_amount::text FROM scout.transactions WHERE source_id = $1", &[&refund_id])
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert_eq!((refund.0, Dec::parse(&refund.1)), (true, -orig.total), "the refund is in silver, negative");
    let gross: String = c
        .query_one("SELECT gross_amount::text FROM scout.transactions WHERE source_id = $1", &[&fix_id])
        .unwrap()
        .get(0);
    assert_eq!(Dec::parse(&gross), fix.total + d_incl, "the price fix is in silver");
    // Gold does not move until the refresh ...
    let gold_unrefreshed: Vec<(i64, String, String)> = c
        .query("SELECT store_id, business_date::text, revenue::text FROM scout.gold_daily_sales ORDER BY 1, 2", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(gold_unrefreshed, gold_before, "gold is a snapshot until scout.refresh_gold()");
    // ... and then equals Odoo's data: the fix adds, the cancellation and the refund subtract.
    refresh_gold(&db);
    assert_gold(&db, &after);
    let day = |o: &OOrder| (o.config, local_day_hour(&o.date, 8 * 3600).0);
    let revenue = |e: &Expected, k: &(i64, String)| {
        e.daily.get(k).map(|s| Dec::parse(s.split('|').nth(3).unwrap())).unwrap_or_default()
    };
    let cancelled = &odoo.orders[&cancel_id];
    if day(cancelled) != day(fix) {
        assert_eq!(
            revenue(&after, &day(cancelled)),
            revenue(&before, &day(cancelled)) - cancelled.total,
            "cancelled order leaves revenue"
        );
        assert_eq!(revenue(&after, &day(fix)), revenue(&before, &day(fix)) + d_incl, "price fix adds to revenue");
    }
    let refund_day = day(&odoo2.orders[&refund_id]);
    let refunds: Dec = Dec::parse(after.daily[&refund_day].split('|').nth(4).unwrap());
    assert!(refunds.0 >= orig.total.0, "the refund is counted as refunded on its day: {refunds}");
}

/// Each data-quality rule sends the failing record to quarantine with the rule, the reason and
/// the run id, keeps it out of silver and gold, and lets it out when Odoo fixes it.
#[test]
fn a_rejected_record_stays_out_of_silver_and_gold_and_leaves_quarantine_when_fixed() {
    let sim = Sim::start(&["--orders", "300", "--seed", "24", "--with-region-code"]);
    let db = Cluster::shared().create_db("sg_rejects");
    db.configure(&sim, &[]);
    let (odoo, _) = sync_and_check(&db, &sim, "UTC", 0);

    let normal: Vec<i64> = odoo
        .orders
        .iter()
        .filter(|(_, o)| status_of(&o.state) == "completed" && !is_refund(o) && o.lines.len() >= 2)
        .map(|(id, _)| *id)
        .collect();
    // line_total_mismatch: the totals of a line no longer match qty x price.
    let bad_total = odoo.orders[&normal[0]].lines[0];
    let l = &odoo.lines[&bad_total];
    write(
        &sim,
        "pos.order.line",
        bad_total,
        json!({"price_subtotal": (l.sub + Dec(5 * MICRO)).json(), "price_subtotal_incl": (l.incl + Dec(5 * MICRO)).json()}),
    );
    // negative_qty_not_refund: a negative quantity (totals consistent) on an ordinary sale.
    let negative = odoo.orders[&normal[1]].lines[0];
    let n = &odoo.lines[&negative];
    write(
        &sim,
        "pos.order.line",
        negative,
        json!({"qty": (-n.qty).json(), "price_subtotal": (-n.sub).json(), "price_subtotal_incl": (-n.incl).json()}),
    );
    // payments_mismatch: a payment amount changed.
    let pay_order = normal[2];
    let (&pay_id, pay) = odoo.payments.iter().find(|(_, p)| p.order == pay_order && !p.change).unwrap();
    write(&sim, "pos.payment", pay_id, json!({"amount": (pay.amount + Dec(10 * MICRO)).json()}));
    // order_without_lines: a paid order with nothing in it.
    let empty = sim
        .execute(
            "pos.order",
            "create",
            json!([{"session_id": odoo.orders[&normal[0]].session, "state": "paid"}]),
            json!({}),
        )
        .as_i64()
        .unwrap();
    // Not a reject: the refund of a free item ("<name> REFUND", total 0, negative quantity).
    let free = &odoo.lines[&odoo.orders[&normal[4]].lines[0]];
    let free_refund = sim
        .execute(
            "pos.order",
            "create",
            json!([{"name": format!("{} REFUND", odoo.orders[&normal[4]].name), "session_id": odoo.orders[&normal[4]].session, "state": "paid",
                    "lines": [[0, 0, {"product_id": free.product, "qty": -1.0, "price_unit": 0.0, "discount": 0.0,
                                      "price_subtotal": 0.0, "price_subtotal_incl": 0.0}]]}]),
            json!({}),
        )
        .as_i64()
        .unwrap();
    sim.advance_clock(5.0);

    let rows = sync_all_ok(&db, "");
    let odoo2 = read_odoo(&sim);
    let e = expected(&odoo2, "UTC", 0);
    let want: BTreeSet<(String, i64, String)> = [
        ("pos.order.line", bad_total, "line_total_mismatch"),
        ("pos.order.line", negative, "negative_qty_not_refund"),
        ("pos.order", pay_order, "payments_mismatch"),
        ("pos.order", empty, "order_without_lines"),
    ]
    .iter()
    .map(|(m, id, r)| (m.to_string(), *id, r.to_string()))
    .collect();
    assert_eq!(e.rejects, want, "the test's own reading of the rules");
    assert_silver(&db, &odoo2, &e);
    refresh_gold(&db);
    assert_gold(&db, &e);
    // The run that found them, a reason with the values, and the runs' rejected counts.
    let lines_run = run_of(&rows, "pos.order.line").run_id;
    let payments_run = run_of(&rows, "pos.payment").run_id;
    let orders_run = run_of(&rows, "pos.order").run_id;
    let mut c = db.connect();
    let rejects: Vec<(i64, String, String, Option<i64>)> = c
        .query("SELECT source_id, rule, reason, run_id FROM scout.silver_rejects ORDER BY source_id, rule", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    for (id, rule, reason, run) in &rejects {
        let expected_run = match rule.as_str() {
            "line_total_mismatch" | "negative_qty_not_refund" => lines_run,
            "payments_mismatch" => payments_run,
            _ => orders_run,
        };
        assert_eq!(*run, expected_run, "{id} {rule}: run id");
        assert!(!reason.is_empty());
    }
    let reason_of = |rule: &str| rejects.iter().find(|r| r.1 == rule).unwrap().2.clone();
    assert!(
        reason_of("line_total_mismatch").contains(&(l.sub + Dec(5 * MICRO)).to_string()),
        "{}",
        reason_of("line_total_mismatch")
    );
    assert!(
        reason_of("payments_mismatch").contains(&odoo.orders[&pay_order].total.to_string()),
        "{}",
        reason_of("payments_mismatch")
    );
    assert_eq!(logged_rejected(&db, lines_run), 2, "pos.order.line run: two lines quarantined");
    assert_eq!(logged_rejected(&db, orders_run), 1, "pos.order run: the empty order");
    // Out of silver: the order of a rejected line keeps only its valid lines.
    let in_items: i64 = c
        .query_one(
            "SELECT count(*) FROM scout.transaction_items WHERE source_id = ANY($1)",
            &[&vec![bad_total, negative]],
        )
        .unwrap()
        .get(0);
    let in_tx: i64 = c
        .query_one("SELECT count(*) FROM scout.transactions WHERE source_id = ANY($1)", &[&vec![pay_order, empty]])
        .unwrap()
        .get(0);
    assert_eq!((in_items, in_tx), (0, 0));
    let refund: (bool, String) = c
        .query_one("SELECT is_refund, quantity::text FROM scout.transactions WHERE source_id = $1", &[&free_refund])
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert_eq!(
        (refund.0, Dec::parse(&refund.1)),
        (true, Dec(-MICRO)),
        "a zero-total refund is a refund, its line is valid"
    );

    // silver_rebuild() derives exactly the same silver and quarantine from bronze.
    let snapshot = |c: &mut postgres::Client| -> Vec<String> {
        c.query(
            "SELECT x::text FROM (
               SELECT to_jsonb(t) - 'synced_at' - 'run_id' AS x FROM scout.transactions t
               UNION ALL SELECT to_jsonb(i) - 'synced_at' - 'run_id' FROM scout.transaction_items i
               UNION ALL SELECT to_jsonb(p) - 'synced_at' - 'run_id' FROM scout.payments p
               UNION ALL SELECT to_jsonb(p) - 'synced_at' - 'run_id' FROM scout.products p
               UNION ALL SELECT to_jsonb(s) - 'synced_at' - 'run_id' FROM scout.stores s
               UNION ALL SELECT to_jsonb(s) - 'synced_at' - 'run_id' FROM scout.customers s
               UNION ALL SELECT jsonb_build_object('model', model, 'id', source_id, 'rule', rule, 'reason', reason) FROM scout.silver_rejects) q
             ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
    };
    let incremental = snapshot(&mut c);
    c.batch_execute("SELECT scout.silver_rebuild()").unwrap();
    let rebuilt = snapshot(&mut c);
    assert_eq!(incremental.len(), rebuilt.len());
    assert!(incremental == rebuilt, "silver_rebuild() differs from the incremental result");

    // Odoo fixes everything: the records leave quarantine by themselves.
    write(
        &sim,
        "pos.order.line",
        bad_total,
        json!({"price_subtotal": l.sub.json(), "price_subtotal_incl": l.incl.json()}),
    );
    write(
        &sim,
        "pos.order.line",
        negative,
        json!({"qty": n.qty.json(), "price_subtotal": n.sub.json(), "price_subtotal_incl": n.incl.json()}),
    );
    write(&sim, "pos.payment", pay_id, json!({"amount": pay.amount.json()}));
    let l0 = &odoo.lines[&odoo.orders[&normal[3]].lines[0]];
    write(
        &sim,
        "pos.order",
        empty,
        json!({"amount_total": l0.incl.json(), "amount_tax": (l0.incl - l0.sub).json(), "amount_paid": l0.incl.json(),
               "lines": [[0, 0, {"product_id": l0.product, "qty": l0.qty.json(), "price_unit": l0.price.json(), "discount": l0.disc.json(),
                                 "price_subtotal": l0.sub.json(), "price_subtotal_incl": l0.incl.json()}]],
               "payment_ids": [[0, 0, {"payment_method_id": odoo.payments.values().next().unwrap().method, "amount": l0.incl.json()}]]}),
    );
    sim.advance_clock(5.0);
    let (_, e) = sync_and_check(&db, &sim, "UTC", 0);
    assert!(e.rejects.is_empty());
    assert_eq!(db.count("scout.silver_rejects"), 0, "quarantine is empty once Odoo is fixed");
    let back: i64 = c
        .query_one("SELECT count(*) FROM scout.transactions WHERE source_id = ANY($1)", &[&vec![pay_order, empty]])
        .unwrap()
        .get(0);
    assert_eq!(back, 2);
}

/// A line (or payment) that arrives before its order — a POS upload landing between the order
/// and line syncs — waits in quarantine under missing_order and is completed, never lost, when
/// the order arrives.
#[test]
fn a_line_that_arrives_before_its_order_waits_and_is_completed_when_the_order_arrives() {
    let sim = Sim::start(&["--orders", "200", "--seed", "25", "--with-brand"]);
    let db = Cluster::shared().create_db("sg_early");
    db.configure(&sim, &[]);
    sync_and_check(&db, &sim, "UTC", 0);
    let created = sim.mutate("pos.order", "create", 4);
    let new_orders: Vec<i64> = created["ids"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
    sim.advance_clock(5.0);

    let lines = sync(&db, "pos.order.line", "");
    let payments = sync(&db, "pos.payment", "");
    assert!(lines.inserted >= 4 && payments.inserted >= 4, "{lines:?} {payments:?}");
    assert_eq!(logged_rejected(&db, lines.run_id), lines.inserted, "every new line waits for its order");
    assert_eq!(logged_rejected(&db, payments.run_id), payments.inserted);
    let mut c = db.connect();
    let waiting: Vec<(String, String, Option<String>, Option<i64>)> = c
        .query("SELECT model, rule, ref_model, ref_id FROM scout.silver_rejects", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert_eq!(waiting.len() as i64, lines.inserted + payments.inserted);
    for (model, rule, ref_model, ref_id) in &waiting {
        assert_eq!((rule.as_str(), ref_model.as_deref()), ("missing_order", Some("pos.order")), "{model}");
        assert!(new_orders.contains(&ref_id.unwrap()));
    }
    let orders = sync(&db, "pos.order", "");
    assert_eq!(orders.inserted, 4);
    assert_eq!(logged_rejected(&db, orders.run_id), 0);
    assert_eq!(db.count("scout.silver_rejects"), 0, "the order's arrival released its lines and payments");
    let complete: i64 = c
        .query_one("SELECT count(*) FROM scout.transactions WHERE source_id = ANY($1) AND complete AND line_count > 0 AND payment_method IS NOT NULL", &[&new_orders])
        .unwrap()
        .get(0);
    assert_eq!(complete, 4, "quantity, first line and payment method filled in");

    // An order of a brand-new POS that syncs before the POS itself waits under missing_store.
    let config = sim.execute("pos.config", "create", json!([{"name": "Pop-up Store"}]), json!({})).as_i64().unwrap();
    let session = sim.execute("pos.session", "create", json!([{"config_id": config}]), json!({})).as_i64().unwrap();
    let odoo = read_odoo(&sim);
    let (_, l) = odoo.lines.iter().next().unwrap();
    let cash = *odoo.methods.iter().find(|(_, m)| m.1 == "cash").unwrap().0;
    let popup = sim
        .execute(
            "pos.order",
            "create",
            json!([{"session_id": session, "state": "paid", "amount_total": l.incl.json(), "amount_tax": (l.incl - l.sub).json(), "amount_paid": l.incl.json(),
                    "lines": [[0, 0, {"product_id": l.product, "qty": l.qty.json(), "price_unit": l.price.json(), "discount": l.disc.json(),
                                      "price_subtotal": l.sub.json(), "price_subtotal_incl": l.incl.json()}]],
                    "payment_ids": [[0, 0, {"payment_method_id": cash, "amount": l.incl.json()}]]}]),
            json!({}),
        )
        .as_i64()
        .unwrap();
    sim.advance_clock(5.0);
    for model in ["pos.order", "pos.order.line", "pos.payment"] {
        sync(&db, model, "");
    }
    let waiting: Vec<(i64, String, Option<i64>)> = c
        .query("SELECT source_id, rule, ref_id FROM scout.silver_rejects", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(waiting, [(popup, "missing_store".to_string(), Some(config))]);
    sync(&db, "pos.config", "");
    assert_eq!(db.count("scout.silver_rejects"), 0, "the POS's arrival released its order");
    let store: Option<i64> =
        c.query_one("SELECT store_id FROM scout.transactions WHERE source_id = $1", &[&popup]).unwrap().get(0);
    assert_eq!(store, Some(config));
    sync_all_ok(&db, "");
    // And everything equals Odoo.
    refresh_gold(&db);
    let odoo = read_odoo(&sim);
    let e = expected(&odoo, "UTC", 0);
    assert_silver(&db, &odoo, &e);
    assert_gold(&db, &e);
}

/// Records deleted in Odoo are soft-deleted by a full sync: silver keeps them with deleted_at
/// (an order's lines and payments with it), and gold no longer counts them.
#[test]
fn records_deleted_in_odoo_are_soft_deleted_in_silver_and_gold_ignores_them() {
    let sim = Sim::start(&["--orders", "300", "--seed", "26"]);
    let db = Cluster::shared().create_db("sg_deletes");
    db.configure(&sim, &[]);
    let (odoo, before) = sync_and_check(&db, &sim, "UTC", 0);
    // A cancelled order (Odoo deletes only new or cancelled ones; its lines go with it).
    let (&gone_order, gone) =
        odoo.orders.iter().find(|(_, o)| o.state == "cancel" && !o.lines.is_empty()).expect("a cancelled order");
    sim.execute("pos.order", "unlink", json!([[gone_order]]), json!({}));
    // A line of a completed sale: gold's product mix and the order's quantity lose it.
    let (&sale, _) = odoo
        .orders
        .iter()
        .find(|(_, o)| status_of(&o.state) == "completed" && !is_refund(o) && o.lines.len() >= 2)
        .unwrap();
    let gone_line = odoo.orders[&sale].lines[1];
    sim.execute("pos.order.line", "unlink", json!([[gone_line]]), json!({}));
    sim.advance_clock(5.0);

    sync_all_ok(&db, "\"full\" => true");
    refresh_gold(&db);
    let odoo2 = read_odoo(&sim);
    let e = expected(&odoo2, "UTC", 0);
    assert_silver(&db, &odoo2, &e);
    assert_gold(&db, &e);
    let mut c = db.connect();
    let tx_deleted: bool = c
        .query_one("SELECT deleted_at IS NOT NULL FROM scout.transactions WHERE source_id = $1", &[&gone_order])
        .unwrap()
        .get(0);
    assert!(tx_deleted, "the deleted order is kept, marked deleted");
    let items: (i64, i64) = c
        .query_one(
            "SELECT count(*), count(deleted_at) FROM scout.transaction_items WHERE order_id = $1",
            &[&gone_order],
        )
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert_eq!(items, (gone.lines.len() as i64, gone.lines.len() as i64), "its lines are marked deleted with it");
    let line_deleted: bool = c
        .query_one("SELECT deleted_at IS NOT NULL FROM scout.transaction_items WHERE source_id = $1", &[&gone_line])
        .unwrap()
        .get(0);
    assert!(line_deleted);
    // The sale lost the deleted line's quantity in silver and in gold.
    let l = &odoo.lines[&gone_line];
    let day = local_day_hour(&odoo.orders[&sale].date, 0).0;
    let k = (odoo.orders[&sale].config, day);
    let items_sold = |e: &Expected| Dec::parse(e.daily[&k].split('|').nth(6).unwrap());
    assert_eq!(items_sold(&e), items_sold(&before) - l.qty);
    assert_eq!(db.count("scout.silver_rejects"), 0);
}

/// A store's address and region come from the contact named like the POS, when Odoo has one;
/// it is completed when that contact arrives.
#[test]
fn a_store_gets_its_address_and_region_from_the_contact_named_like_the_pos() {
    for (flags, region) in [(vec!["--with-region-code"], Some("R7")), (vec![], None)] {
        let mut args = vec!["--orders", "100", "--seed", "27"];
        args.extend(flags.iter());
        let sim = Sim::start(&args);
        let db = Cluster::shared().create_db("sg_store");
        db.configure(&sim, &[]);
        sync_all_ok(&db, "");
        let mut c = db.connect();
        let (id, name): (i64, String) = c
            .query_one("SELECT id, name FROM scout.stores ORDER BY id DESC LIMIT 1", &[])
            .map(|r| (r.get(0), r.get(1)))
            .unwrap();
        let city: Option<String> = c.query_one("SELECT city FROM scout.stores WHERE id = $1", &[&id]).unwrap().get(0);
        assert_eq!(city, None, "no contact for the store yet: no guessed address");
        let mut vals = json!({"name": name, "is_company": true, "street": "Pres. Osmeña Blvd", "city": "Cebu City", "zip": "6000"});
        if let Some(r) = region {
            vals["x_region_code"] = json!(r);
        }
        sim.execute("res.partner", "create", json!([vals]), json!({}));
        sim.advance_clock(5.0);
        sync_all_ok(&db, "");
        let row: (Option<String>, Option<String>, Option<String>) = c
            .query_one("SELECT street, city, region_code FROM scout.stores WHERE id = $1", &[&id])
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .unwrap();
        assert_eq!(row, (Some("Pres. Osmeña Blvd".into()), Some("Cebu City".into()), region.map(String::from)));
    }
}

/// refresh_gold() populates views that were never populated, and refreshes concurrently: an
/// open reader of a gold view does not block it.
#[test]
fn refresh_gold_populates_unpopulated_views_and_does_not_block_readers() {
    let sim = Sim::start(&["--orders", "150", "--seed", "28"]);
    let db = Cluster::shared().create_db("sg_refresh");
    db.configure(&sim, &[]);
    sync_all_ok(&db, "");
    let mut c = db.connect();
    let views: Vec<String> = c
        .query("SELECT matviewname::text FROM pg_matviews WHERE schemaname = 'scout' ORDER BY 1", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        views,
        [
            "gold_basket_size",
            "gold_brand_mix",
            "gold_category_mix",
            "gold_company_daily_sales",
            "gold_daily_sales",
            "gold_hourly_transactions",
            "gold_payment_mix",
            "gold_product_mix"
        ]
    );
    for v in &views {
        c.batch_execute(&format!("REFRESH MATERIALIZED VIEW scout.{v} WITH NO DATA")).unwrap();
    }
    refresh_gold(&db);
    let populated: i64 =
        c.query_one("SELECT count(*) FROM pg_matviews WHERE schemaname = 'scout' AND ispopulated", &[]).unwrap().get(0);
    assert_eq!(populated, 8);
    let rows: i64 = c.query_one("SELECT count(*) FROM scout.gold_daily_sales", &[]).unwrap().get(0);
    assert!(rows > 0);
    // A model without a silver table (pos.session, or one a user adds) is bronze only.
    let n: i64 = c.query_one("SELECT scout.silver_apply('res.users', '{1,2}', NULL)", &[]).unwrap().get(0);
    assert_eq!(n, 0);
    // A reader holds its snapshot of every gold view open ...
    let mut reader = db.connect();
    reader.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ").unwrap();
    for v in &views {
        reader.batch_execute(&format!("SELECT count(*) FROM scout.{v}")).unwrap();
    }
    // ... and the refresh still goes through (a plain REFRESH would wait for the reader).
    c.batch_execute("SET lock_timeout = '3s'; SELECT scout.refresh_gold()").unwrap();
    reader.batch_execute("COMMIT").unwrap();
}

#[test]
fn a_long_load_refreshes_the_planner_statistics_of_the_tables_it_grows() {
    // Statistics taken of empty tables (as autovacuum does after a failed or truncated first
    // load) say "no rows"; a load that kept them would plan every page as if the tables were
    // empty. A load refreshes them as it grows (10,000 rows, then 100,000, ...).
    let sim = Sim::start(&["--orders", "2500", "--seed", "8"]);
    let db = Cluster::shared().create_db("sg_analyze");
    db.configure(&sim, &[]);
    for model in [
        "product.category",
        "product.product",
        "res.partner",
        "pos.config",
        "pos.session",
        "pos.payment.method",
        "pos.order",
    ] {
        sync(&db, model, "");
    }
    let mut c = db.connect();
    c.batch_execute("ANALYZE scout.bronze_pos_order_line, scout.transaction_items").unwrap();
    let tuples = |c: &mut postgres::Client, t: &str| -> f32 {
        c.query_one("SELECT reltuples FROM pg_class WHERE oid = $1::text::regclass", &[&t]).unwrap().get(0)
    };
    assert_eq!(tuples(&mut c, "scout.bronze_pos_order_line"), 0.0);
    let r = sync(&db, "pos.order.line", "");
    let lines = sim.count("pos.order.line");
    assert!(lines > 10_000, "enough lines for a refresh: {lines}");
    assert_eq!((r.status.as_str(), r.inserted), ("success", lines), "{r:?}");
    for t in ["scout.bronze_pos_order_line", "scout.transaction_items"] {
        assert!(tuples(&mut c, t) >= 10_000.0, "{t}: statistics refreshed during the load: {}", tuples(&mut c, t));
    }
    let fields = requested_fields(&sim, "pos.order.line", &model_fields_of(&db, "pos.order.line").2, &[]);
    assert_bronze_matches(&db, &sim, "pos.order.line", "bronze_pos_order_line", &fields);
    assert_silver_matches_bronze(&db);
}
