//! Just enough HTTP/1.1 to read one request and write one answer per connection
//! (`Connection: close`): a request line, headers, and a body of `Content-Length` bytes.

use crate::Response;
use std::io::{Read, Write};

/// Headers larger than this are refused.
const MAX_HEAD: usize = 16 * 1024;

pub enum ReadError {
    TooLarge,
    Malformed(&'static str),
    /// The peer went away or was too slow: nothing to answer.
    Io,
}

pub fn read_request(stream: &mut impl Read, max_body: usize) -> Result<crate::Request, ReadError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_HEAD {
            return Err(ReadError::Malformed("the request's headers are too large"));
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return Err(ReadError::Io),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| ReadError::Malformed("the headers are not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let (method, target) = match (first.next(), first.next(), first.next()) {
        (Some(m), Some(t), Some(v)) if v.starts_with("HTTP/1.") => (m.to_owned(), t),
        _ => return Err(ReadError::Malformed("not an HTTP/1.x request line")),
    };
    let path = target.split('?').next().unwrap_or_default().to_owned();
    let mut length = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
        if name == "content-length" {
            length = Some(value.parse::<usize>().map_err(|_| ReadError::Malformed("a bad Content-Length"))?);
        } else if name == "transfer-encoding" && !value.eq_ignore_ascii_case("identity") {
            return Err(ReadError::Malformed("chunked bodies are not accepted: send Content-Length"));
        }
    }
    let length = length.unwrap_or(0);
    if length > max_body {
        return Err(ReadError::TooLarge);
    }
    let mut body = buf[head_end + 4..].to_vec();
    if body.len() > length {
        body.truncate(length);
    }
    while body.len() < length {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return Err(ReadError::Io),
            Ok(n) => body.extend_from_slice(&chunk[..n.min(length - body.len())]),
        }
    }
    Ok(crate::Request { method, path, body })
}

pub fn write_response(stream: &mut impl Write, r: &Response) {
    let reason = match r.status {
        202 => "Accepted",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        _ => "Status",
    };
    let text = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        r.status,
        r.body.len(),
        r.body
    );
    let _ = stream.write_all(text.as_bytes());
    let _ = stream.flush();
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
