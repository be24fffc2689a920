use std::io::Write;

fn main() {
    let cfg = match odoo_sim::Config::parse(std::env::args().skip(1)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let server = match odoo_sim::start(cfg) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("odoo-sim: {e}");
            std::process::exit(1);
        }
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on {}", server.url());
    let _ = out.flush();
    drop(out);
    loop {
        std::thread::park();
    }
}
