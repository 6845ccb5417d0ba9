//! JSON answers (the read API, server functions) gzip-compressed on the fly at a fast level
//! when the client accepts it. Other answers pass untouched: the raw export streams CSV or
//! NDJSON, workbooks are zip files already, the live feed is an event stream, pages stream.

use std::io::Write;

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, VARY};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use flate2::write::GzEncoder;
use flate2::Compression;

/// Smaller answers go out as they are: gzip's header and trailer would outweigh the saving.
const MIN_BYTES: usize = 512;

/// Whether an `Accept-Encoding` header accepts gzip (`gzip` or `*`, with no `q=0`).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(ACCEPT_ENCODING).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    value.split(',').any(|part| {
        let mut pieces = part.split(';').map(str::trim);
        let coding = pieces.next().unwrap_or("");
        let refused = pieces.any(|p| {
            p.strip_prefix("q=")
                .and_then(|q| q.parse::<f32>().ok())
                .is_some_and(|q| q == 0.0)
        });
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
    })
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"))
}

/// The middleware: compresses a JSON answer for a client that accepts gzip.
pub async fn gzip_json(req: Request, next: Next) -> Response {
    let accepts = accepts_gzip(req.headers());
    let mut res = next.run(req).await;
    if !is_json(res.headers()) || res.headers().contains_key(CONTENT_ENCODING) {
        return res;
    }
    res.headers_mut()
        .append(VARY, HeaderValue::from_static("accept-encoding"));
    if !accepts {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    // JSON answers are built in memory before they are sent; nothing streams here.
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "reading a JSON answer to compress it");
            return Response::builder()
                .status(500)
                .body(Body::from("the answer could not be read"))
                .unwrap_or_default();
        }
    };
    if bytes.len() < MIN_BYTES {
        return Response::from_parts(parts, Body::from(bytes));
    }
    let mut gz = GzEncoder::new(Vec::with_capacity(bytes.len() / 4), Compression::fast());
    let compressed = gz.write_all(&bytes).and_then(|_| gz.finish());
    match compressed {
        Ok(out) => {
            parts
                .headers
                .insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            parts.headers.remove(CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(out))
        }
        // Writing into memory does not fail; if it did, the plain answer is still right.
        Err(_) => Response::from_parts(parts, Body::from(bytes)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_accepted_unless_refused() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
            accepts_gzip(&m)
        };
        assert!(h("gzip"));
        assert!(h("br, gzip;q=0.8"));
        assert!(h("*"));
        assert!(!h("gzip;q=0"));
        assert!(!h("br, deflate"));
        assert!(!h("identity"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}
