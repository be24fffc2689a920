//! Just enough HTTP/1.1 to read one request and write one answer per connection
//! (`Connection: close`): a request line, headers, and a body of `Content-Length` bytes.
//!
//! The reader is incremental because the listener's sockets are non-blocking: bytes are pushed
//! as they arrive and each push says whether the request is complete, refused, or how many more
//! bytes may be read. It never asks for more than it may keep, so the head limit is exact.

use crate::{Request, Response};

/// The most bytes a request's head may take, its request line, headers and the blank line that
/// ends them included. Odoo's head is a few hundred bytes.
pub const MAX_HEAD: usize = 16 * 1024;

/// Why a request is answered without being looked at.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The body announced is larger than the limit (413).
    TooLarge,
    /// Not an HTTP/1.x request this reader takes (400).
    Malformed(&'static str),
}

/// What the bytes received so far make of the request.
#[derive(Debug)]
pub enum Parsed {
    /// Not complete yet.
    NeedMore,
    Complete(Request),
    Refused(Refusal),
}

/// The head, once its end was seen.
struct Head {
    method: String,
    path: String,
    /// The head's length, the blank line included: where the body starts.
    len: usize,
    body_len: usize,
}

/// One request, read a piece at a time.
pub struct RequestReader {
    buf: Vec<u8>,
    max_body: usize,
    /// How far the head's end was looked for (a byte-a-packet client costs linear time).
    scanned: usize,
    head: Option<Head>,
}

impl RequestReader {
    pub fn new(max_body: usize) -> RequestReader {
        RequestReader { buf: Vec::new(), max_body, scanned: 0, head: None }
    }

    /// Nothing was received yet.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// How many more bytes may be read now: up to the head limit while the head is incomplete,
    /// then up to the body's end. Never 0 while [`RequestReader::push`] answers `NeedMore`.
    pub fn room(&self) -> usize {
        let limit = match &self.head {
            None => MAX_HEAD,
            Some(head) => head.len + head.body_len,
        };
        limit.saturating_sub(self.buf.len())
    }

    /// Takes the next bytes (at most [`RequestReader::room`]; any more are dropped).
    pub fn push(&mut self, bytes: &[u8]) -> Parsed {
        let keep = bytes.len().min(self.room());
        self.buf.extend_from_slice(&bytes[..keep]);
        if self.head.is_none() {
            match self.find_head() {
                Ok(Some(head)) => self.head = Some(head),
                Ok(None) if self.buf.len() >= MAX_HEAD => {
                    return Parsed::Refused(Refusal::Malformed("the request's headers are too large"))
                }
                Ok(None) => return Parsed::NeedMore,
                Err(refusal) => return Parsed::Refused(refusal),
            }
        }
        self.complete()
    }

    /// The head, if its end arrived; refused if it is not one this reader takes.
    fn find_head(&mut self) -> Result<Option<Head>, Refusal> {
        // The terminator may straddle the previous push.
        let from = self.scanned.saturating_sub(3);
        self.scanned = self.buf.len();
        let Some(at) = find(self.buf.get(from..).unwrap_or_default(), b"\r\n\r\n") else { return Ok(None) };
        let end = from + at;
        let head = parse_head(&self.buf[..end], end + 4)?;
        if head.body_len > self.max_body {
            return Err(Refusal::TooLarge);
        }
        Ok(Some(head))
    }

    /// The request, once its whole body arrived.
    fn complete(&mut self) -> Parsed {
        let Some(head) = &self.head else { return Parsed::NeedMore };
        let end = head.len + head.body_len;
        match self.buf.get(head.len..end) {
            Some(body) => {
                Parsed::Complete(Request { method: head.method.clone(), path: head.path.clone(), body: body.to_vec() })
            }
            None => Parsed::NeedMore,
        }
    }
}

/// Parses a head without its final blank line; `len` is its length with it.
fn parse_head(head: &[u8], len: usize) -> Result<Head, Refusal> {
    let head = std::str::from_utf8(head).map_err(|_| Refusal::Malformed("the headers are not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let (method, target) = match (first.next(), first.next(), first.next()) {
        (Some(m), Some(t), Some(v)) if v.starts_with("HTTP/1.") => (m.to_owned(), t),
        _ => return Err(Refusal::Malformed("not an HTTP/1.x request line")),
    };
    let path = target.split('?').next().unwrap_or_default().to_owned();
    let mut body_len = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
        if name == "content-length" {
            body_len = Some(value.parse::<usize>().map_err(|_| Refusal::Malformed("a bad Content-Length"))?);
        } else if name == "transfer-encoding" && !value.eq_ignore_ascii_case("identity") {
            return Err(Refusal::Malformed("chunked bodies are not accepted: send Content-Length"));
        }
    }
    Ok(Head { method, path, len, body_len: body_len.unwrap_or(0) })
}

/// The answer's bytes, status line to body.
pub fn response_bytes(r: &Response) -> Vec<u8> {
    let reason = match r.status {
        202 => "Accepted",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        _ => "Status",
    };
    format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        r.status,
        r.body.len(),
        r.body
    )
    .into_bytes()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
