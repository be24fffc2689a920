//! bench-rawclient URL DB LOGIN PASSWORD MODEL FIELDS(comma) [BATCH] [PARALLEL]
//!
//! Pages through every record of MODEL (`id > last`, `order id asc`, `limit BATCH`, context
//! `active_test: false`) with search_read and the requested fields, exactly like the engine's
//! fetch loop, and checks each page the way the engine does (every record's id, and every
//! value's shape against its field's fields_get type; RAW_CHECK=ids checks ids only). With
//! PARALLEL > 1, the id range is split into that many contiguous slices, each paged by its own
//! thread and connection (what a parallel full sync would do). Prints one JSON line.

use odoo_client::shape::{scan_page, shapes_of, Shapes};
use odoo_client::{Client, ClientConfig, Secret};
use serde_json::{json, Map};
use std::time::Instant;

fn client(url: &str, db: &str, login: &str, pw: &str) -> Client {
    let mut c = Client::new(ClientConfig::new(url, db, login, Secret(pw.into()))).expect("client");
    c.connect().expect("connect");
    c
}

/// Pages through ids in (lo, hi]; returns (records, pages, bytes).
fn page_range(c: &mut Client, model: &str, fields: &[String], batch: u32, lo: i64, hi: Option<i64>) -> (u64, u64, u64) {
    let ctx = json!({"active_test": false});
    let shapes: Shapes = if std::env::var("RAW_CHECK").as_deref() == Ok("ids") {
        Shapes::new()
    } else {
        shapes_of(&c.fields_get(model).expect("fields_get"), fields)
    };
    let (mut last, mut n, mut pages, mut bytes) = (lo, 0u64, 0u64, 0u64);
    loop {
        let mut dom = vec![json!(["id", ">", last])];
        if let Some(h) = hi {
            dom.push(json!(["id", "<=", h]));
        }
        let page = c.search_read_raw(model, &json!(dom), fields, "id asc", batch, &ctx).expect("search_read");
        bytes += page.len() as u64;
        let heads = scan_page(&page, &shapes).expect("a list of records");
        pages += 1;
        for h in &heads {
            assert!(h.misshapen.is_none(), "a misshapen value");
            let id: i64 = h.id.expect("an id").get().parse().expect("integer id");
            assert!(id > last, "ids out of order");
            last = id;
        }
        n += heads.len() as u64;
        if heads.len() < batch as usize {
            return (n, pages, bytes);
        }
    }
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 7 {
        eprintln!("usage: bench-rawclient URL DB LOGIN PASSWORD MODEL FIELDS [BATCH] [PARALLEL]");
        std::process::exit(2);
    }
    let (url, db, login, pw, model) = (a[1].clone(), a[2].clone(), a[3].clone(), a[4].clone(), a[5].clone());
    let fields: Vec<String> = a[6].split(',').filter(|f| !f.is_empty()).map(str::to_owned).collect();
    let batch: u32 = a.get(7).and_then(|s| s.parse().ok()).unwrap_or(500);
    let parallel: i64 = a.get(8).and_then(|s| s.parse().ok()).unwrap_or(1).max(1);

    let t0 = Instant::now();
    let (n, pages, bytes) = if parallel == 1 {
        let mut c = client(&url, &db, &login, &pw);
        page_range(&mut c, &model, &fields, batch, 0, None)
    } else {
        // The highest id, to cut [1, max] into slices.
        let mut c = client(&url, &db, &login, &pw);
        let mut kw = Map::new();
        kw.insert("domain".into(), json!([]));
        kw.insert("order".into(), json!("id desc"));
        kw.insert("limit".into(), json!(1));
        kw.insert("context".into(), json!({"active_test": false}));
        let raw = c.call_raw(&model, "search", kw).expect("search").unwrap_or_default();
        let max: i64 = serde_json::from_str::<Vec<i64>>(&raw).ok().and_then(|v| v.first().copied()).unwrap_or(0);
        let step = (max + parallel - 1) / parallel;
        let handles: Vec<_> = (0..parallel)
            .map(|i| {
                let (url, db, login, pw, model, fields) =
                    (url.clone(), db.clone(), login.clone(), pw.clone(), model.clone(), fields.clone());
                std::thread::spawn(move || {
                    let mut c = client(&url, &db, &login, &pw);
                    page_range(&mut c, &model, &fields, batch, i * step, Some(((i + 1) * step).min(max)))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("thread")).fold((0, 0, 0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2))
    };
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "{{\"model\":\"{model}\",\"records\":{n},\"pages\":{pages},\"bytes\":{bytes},\"batch\":{batch},\"parallel\":{parallel},\"seconds\":{secs:.3},\"rows_per_s\":{:.0}}}",
        n as f64 / secs
    );
}
