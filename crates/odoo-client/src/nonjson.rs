//! Finding the number JSON cannot carry in a body that failed to parse: Python's json.dumps
//! writes `Infinity`, `-Infinity` and `NaN` for such floats, and Odoo sends them as they are. The
//! error then names the field and the record instead of "not JSON" (crate::error::NonJsonNumber).

/// The first bare `Infinity`, `-Infinity` or `NaN` outside strings, with the field it is the
/// value of and the id of the record it is in (the last `"id": N` before it at the same object).
pub fn find_non_json_number(body: &str) -> Option<(String, Option<String>, Option<i64>)> {
    let b = body.as_bytes();
    let (mut i, mut in_string, mut last_key, mut last_string) = (0usize, false, None::<String>, None::<(usize, usize)>);
    let mut last_id: Option<i64> = None;
    while i < b.len() {
        let c = b[i];
        if in_string {
            match c {
                b'\\' => i += 1,
                b'"' => {
                    in_string = false;
                    if let Some((start, _)) = last_string {
                        last_string = Some((start, i));
                    }
                }
                _ => {}
            }
        } else {
            match c {
                b'"' => {
                    in_string = true;
                    last_string = Some((i + 1, i + 1));
                }
                b':' => {
                    if let Some((s, e)) = last_string.take() {
                        last_key = body.get(s..e).map(str::to_owned);
                    }
                    if last_key.as_deref() == Some("id") {
                        let rest = body[i + 1..].trim_start();
                        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
                        if let Ok(id) = digits.parse() {
                            last_id = Some(id);
                        }
                    }
                }
                b'I' | b'N' | b'-' => {
                    let rest = &body[i..];
                    for token in ["Infinity", "-Infinity", "NaN"] {
                        if rest.starts_with(token) {
                            return Some((token.to_owned(), last_key, last_id));
                        }
                    }
                }
                _ => {}
            }
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_field_and_the_record() {
        let body = r#"{"jsonrpc": "2.0", "result": [{"id": 7, "name": "Infinity pool", "list_price": 1.5}, {"id": 9, "name": "x", "list_price": Infinity}]}"#;
        assert_eq!(find_non_json_number(body), Some(("Infinity".into(), Some("list_price".into()), Some(9))));
        assert_eq!(
            find_non_json_number(r#"[{"id": 3, "a": -Infinity}]"#),
            Some(("-Infinity".into(), Some("a".into()), Some(3)))
        );
        assert_eq!(find_non_json_number(r#"[{"id": 3, "a": NaN}]"#).map(|t| t.0), Some("NaN".into()));
        assert_eq!(
            find_non_json_number(r#"[{"id": 3, "a": "NaN and \"Infinity\""}]"#),
            None,
            "inside strings it is text"
        );
        assert_eq!(find_non_json_number(r#"[{"id": 3, "a": -1.5}]"#), None);
    }
}
