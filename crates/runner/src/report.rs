//! What commands print on standard output: aligned tables, like psql's, so that a person reads
//! them and a script can still cut columns.

/// Prints `rows` under `headers`, columns padded to their widest cell; every cell redacted and
/// in the runner's terms (error::in_runner_terms).
pub fn table(headers: &[&str], rows: &[Vec<String>]) {
    let rows: Vec<Vec<String>> =
        rows.iter().map(|r| r.iter().map(|c| crate::error::in_runner_terms(c)).collect()).collect();
    let rows = &rows;
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        println!("{}", padded.join(" | ").trim_end());
    };
    line(headers.to_vec());
    println!("{}", widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("-+-"));
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    println!("({} row{})", rows.len(), if rows.len() == 1 { "" } else { "s" });
}

/// A duration as seconds with milliseconds.
pub fn seconds(d: std::time::Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

/// A Unix time as Odoo's UTC text.
pub fn time(unix: Option<i64>) -> String {
    unix.map(|t| format!("{} UTC", odoo_client::time::format_odoo(t))).unwrap_or_default()
}
