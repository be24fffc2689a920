//! Hand-written JSON output in Python's `json.dumps` style (Odoo's serializer): `", "` and
//! `": "` separators, non-ASCII kept as UTF-8 (`ensure_ascii=False`), floats as Python's
//! `repr` prints them (`1.0`, `4.81`, `1e-05`, `1e+16`). Also Python `repr` of JSON values,
//! which Odoo's error messages embed (`('id', '~~', 1)`).

use serde_json::Value;

/// Appends `s` as a JSON string literal, escaped like Python's json module.
pub fn write_str(out: &mut String, s: &str) {
    out.push('"');
    write_str_body(out, s);
    out.push('"');
}

/// The inside of a JSON string literal (no quotes).
pub fn write_str_body(out: &mut String, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if esc.is_empty() {
            out.push_str(&format!("\\u{:04x}", b));
        } else {
            out.push_str(esc);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
}

pub fn write_int(out: &mut String, v: i64) {
    let mut b = itoa::Buffer::new();
    out.push_str(b.format(v));
}

/// Python's `repr(float)`: shortest round-trip digits, exponent form when the decimal
/// exponent is < -4 or >= 16, and always a `.0` on integral values in fixed form.
pub fn write_float(out: &mut String, v: f64) {
    if !v.is_finite() {
        out.push_str(if v.is_nan() {
            "NaN"
        } else if v > 0.0 {
            "Infinity"
        } else {
            "-Infinity"
        });
        return;
    }
    if v == 0.0 {
        out.push_str(if v.is_sign_negative() { "-0.0" } else { "0.0" });
        return;
    }
    let mut buf = ryu::Buffer::new();
    let s = buf.format_finite(v);
    // Fast path: ryu prints plain decimals like Python for the common money range.
    if !s.contains('e') && v.abs() >= 1e-4 && v.abs() < 1e16 {
        out.push_str(s);
        return;
    }
    // General path: extract digits and the decimal point position, then lay out as CPython.
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let (mant, exp) = match s.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (s, 0),
    };
    let (ip, fp) = mant.split_once('.').unwrap_or((mant, ""));
    let mut digits: String = format!("{ip}{fp}");
    let mut decpt = ip.len() as i32 + exp;
    let lead = digits.len() - digits.trim_start_matches('0').len();
    digits.drain(..lead);
    decpt -= lead as i32;
    while digits.len() > 1 && digits.ends_with('0') {
        digits.pop();
    }
    if neg {
        out.push('-');
    }
    let nd = digits.len() as i32;
    if decpt <= -4 || decpt > 16 {
        out.push_str(&digits[..1]);
        if nd > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let e = decpt - 1;
        out.push_str(&format!("e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs()));
    } else if decpt <= 0 {
        out.push_str("0.");
        for _ in 0..-decpt {
            out.push('0');
        }
        out.push_str(&digits);
    } else if decpt >= nd {
        out.push_str(&digits);
        for _ in 0..decpt - nd {
            out.push('0');
        }
        out.push_str(".0");
    } else {
        out.push_str(&digits[..decpt as usize]);
        out.push('.');
        out.push_str(&digits[decpt as usize..]);
    }
}

pub fn float_str(v: f64) -> String {
    let mut s = String::new();
    write_float(&mut s, v);
    s
}

/// Serializes a serde_json value in Python's json.dumps layout.
pub fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                write_int(out, i);
            } else if let Some(u) = n.as_u64() {
                out.push_str(&u.to_string());
            } else {
                write_float(out, n.as_f64().unwrap_or(0.0));
            }
        }
        Value::String(s) => write_str(out, s),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, x);
            }
            out.push(']');
        }
        Value::Object(o) => {
            out.push('{');
            for (i, (k, x)) in o.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_str(out, k);
                out.push_str(": ");
                write_value(out, x);
            }
            out.push('}');
        }
    }
}

pub fn to_py_json(v: &Value) -> String {
    let mut s = String::new();
    write_value(&mut s, v);
    s
}

/// Python `repr()` of a string: single quotes unless the text has a `'` and no `"`.
pub fn py_repr_str(s: &str) -> String {
    let q = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(q);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == q => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(q);
    out
}

/// Python `repr()` of the value JSON decoded into Python objects.
pub fn py_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => {
            if n.is_f64() {
                float_str(n.as_f64().unwrap_or(0.0))
            } else {
                n.to_string()
            }
        }
        Value::String(s) => py_repr_str(s),
        Value::Array(a) => format!("[{}]", a.iter().map(py_repr).collect::<Vec<_>>().join(", ")),
        Value::Object(o) => format!(
            "{{{}}}",
            o.iter().map(|(k, x)| format!("{}: {}", py_repr_str(k), py_repr(x))).collect::<Vec<_>>().join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_float_repr() {
        let cases = [
            (4.81, "4.81"),
            (1.0, "1.0"),
            (0.0, "0.0"),
            (-12.5, "-12.5"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (123456789.25, "123456789.25"),
            (-0.0, "-0.0"),
            (1.2345e20, "1.2345e+20"),
            (100.0, "100.0"),
        ];
        for (v, want) in cases {
            assert_eq!(float_str(v), want, "{v}");
        }
    }

    #[test]
    fn escapes_like_python() {
        let mut s = String::new();
        write_str(&mut s, "a\"b\\c\nd\u{1}é");
        assert_eq!(s, "\"a\\\"b\\\\c\\nd\\u0001é\"");
        assert_eq!(py_repr(&serde_json::json!(["id", "~~", 1, null, true, 1.5])), "['id', '~~', 1, None, True, 1.5]");
        assert_eq!(py_repr_str("it's"), "\"it's\"");
    }
}
