//! The site's files embedded in the binary by `scripts/release.sh` (issue 33): the wasm, JS
//! and CSS of the app under a content-hashed name, cached for a year (`immutable`), and the
//! public files, each sent brotli- or gzip-compressed (compressed once, at build time) as the
//! browser accepts. A binary built without UA_EMBED_SITE (development, `cargo leptos`) embeds
//! nothing and serves `target/site` from the disk as before.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode};
use axum::response::Response;

/// One embedded file: its URL path, its bytes, and its compressed forms (empty where
/// compressing did not make it smaller).
pub struct Embedded {
    pub path: &'static str,
    pub raw: &'static [u8],
    pub gzip: &'static [u8],
    pub brotli: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/embedded_site.rs"));

/// Whether this binary carries its site.
pub fn embedded() -> bool {
    !SITE.is_empty()
}

/// The name the app's files are asked for under: `usage-analytics.<hash>` when embedded
/// (HydrationScripts and the stylesheet link build their URLs from it), else `base`.
pub fn output_name(base: &str) -> String {
    match SITE_HASH {
        Some(hash) => format!("{base}.{hash}"),
        None => base.to_string(),
    }
}

/// The embedded file for `path`: a hashed name (`/pkg/usage-analytics.<hash>.wasm`) stands
/// for the built file without the hash, and says that it never changes.
fn find(path: &str) -> Option<(&'static Embedded, bool)> {
    if let Some(hash) = SITE_HASH {
        let marker = format!(".{hash}.");
        if let Some(at) = path.find(&marker) {
            let plain = format!("{}.{}", &path[..at], &path[at + marker.len()..]);
            return SITE.iter().find(|e| e.path == plain).map(|e| (e, true));
        }
    }
    SITE.iter().find(|e| e.path == path).map(|e| (e, false))
}

/// Which compressed form to send: brotli, then gzip, when the request accepts it (an
/// `Accept-Encoding` entry with `q=0` refuses it).
fn choose(headers: &HeaderMap, e: &Embedded) -> Option<(&'static str, &'static [u8])> {
    let accepted = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|item| {
            let mut parts = item.split(';').map(str::trim);
            let name = parts.next()?.to_ascii_lowercase();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (!refused).then_some(name)
        })
        .collect::<Vec<String>>();
    let accepts = |name: &str| accepted.iter().any(|a| a == name || a == "*");
    if !e.brotli.is_empty() && accepts("br") {
        Some(("br", e.brotli))
    } else if !e.gzip.is_empty() && accepts("gzip") {
        Some(("gzip", e.gzip))
    } else {
        None
    }
}

/// `Content-Type` by file extension.
fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "wasm" => "application/wasm",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" => "application/json",
        "html" => "text/html; charset=utf-8",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// The answer for an embedded file, or `None` when the binary holds none at this path.
pub fn response(req: &Request<Body>) -> Option<Response> {
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return None;
    }
    let (file, hashed) = find(req.uri().path())?;
    let (encoding, bytes) = match choose(req.headers(), file) {
        Some((enc, bytes)) => (Some(enc), bytes),
        None => (None, file.raw),
    };
    let cache = if hashed {
        "public, max-age=31536000, immutable"
    } else if file.path.starts_with("/pkg/") {
        // The same files under their plain name change with every release.
        "no-cache"
    } else {
        "public, max-age=3600"
    };
    let tag = format!(
        "\"{}-{}-{}\"",
        SITE_HASH.unwrap_or("site"),
        file.raw.len(),
        encoding.unwrap_or("identity")
    );
    let mut res = Response::builder()
        .header(header::CONTENT_TYPE, content_type(file.path))
        .header(header::CACHE_CONTROL, cache)
        .header(header::VARY, "Accept-Encoding")
        .header(header::ETAG, &tag);
    if let Some(enc) = encoding {
        res = res.header(header::CONTENT_ENCODING, enc);
    }
    let unchanged = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == tag.as_bytes());
    let res = if unchanged {
        res.status(StatusCode::NOT_MODIFIED).body(Body::empty())
    } else {
        res.header(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()))
            .body(if req.method() == Method::HEAD {
                Body::empty()
            } else {
                Body::from(bytes)
            })
    };
    res.ok()
}
