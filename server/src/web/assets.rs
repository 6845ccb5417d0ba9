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

/// The file of `site` for `path`: a hashed name (`/pkg/usage-analytics.<hash>.wasm`) stands
/// for the built file without the hash, and says that it never changes.
fn find<'a>(site: &'a [Embedded], hash: Option<&str>, path: &str) -> Option<(&'a Embedded, bool)> {
    if let Some(hash) = hash {
        let marker = format!(".{hash}.");
        if let Some(at) = path.find(&marker) {
            let plain = format!("{}.{}", &path[..at], &path[at + marker.len()..]);
            return site.iter().find(|e| e.path == plain).map(|e| (e, true));
        }
    }
    site.iter().find(|e| e.path == path).map(|e| (e, false))
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
    answer(SITE, SITE_HASH, req)
}

/// The answer for a file of `site` (whose app files are named with `hash`).
fn answer(site: &'static [Embedded], hash: Option<&str>, req: &Request<Body>) -> Option<Response> {
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return None;
    }
    let (file, hashed) = find(site, hash, req.uri().path())?;
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
        hash.unwrap_or("site"),
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

#[cfg(test)]
mod tests {
    use super::*;

    static SITE: [Embedded; 2] = [
        Embedded {
            path: "/pkg/app.wasm",
            raw: b"raw wasm bytes",
            gzip: b"gz",
            brotli: b"br",
        },
        Embedded {
            path: "/favicon.svg",
            raw: b"<svg/>",
            gzip: b"",
            brotli: b"",
        },
    ];
    const HASH: Option<&str> = Some("0123456789abcdef");

    fn get(path: &str, headers: &[(&str, &str)]) -> Option<Response> {
        let mut req = Request::builder().uri(path);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        answer(&SITE, HASH, &req.body(Body::empty()).unwrap())
    }

    fn header<'a>(res: &'a Response, name: &str) -> Option<&'a str> {
        res.headers().get(name).map(|v| v.to_str().unwrap())
    }

    #[test]
    fn the_hashed_name_is_immutable_and_compressed_as_the_browser_accepts() {
        let path = "/pkg/app.0123456789abcdef.wasm";
        let res = get(path, &[("accept-encoding", "gzip, deflate, br")]).unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(header(&res, "content-encoding"), Some("br"));
        assert_eq!(header(&res, "content-length"), Some("2"));
        assert_eq!(header(&res, "content-type"), Some("application/wasm"));
        assert_eq!(header(&res, "vary"), Some("Accept-Encoding"));
        assert_eq!(
            header(&res, "cache-control"),
            Some("public, max-age=31536000, immutable")
        );
        // br refused (q=0) or not offered: gzip; neither: the raw bytes.
        let res = get(path, &[("accept-encoding", "br;q=0, gzip")]).unwrap();
        assert_eq!(header(&res, "content-encoding"), Some("gzip"));
        let res = get(path, &[("accept-encoding", "identity")]).unwrap();
        assert_eq!(header(&res, "content-encoding"), None);
        assert_eq!(header(&res, "content-length"), Some("14"));
        let res = get(path, &[]).unwrap();
        assert_eq!(header(&res, "content-encoding"), None);
    }

    #[test]
    fn plain_names_revalidate_and_public_files_keep_an_hour() {
        let res = get("/pkg/app.wasm", &[("accept-encoding", "br")]).unwrap();
        assert_eq!(header(&res, "cache-control"), Some("no-cache"));
        let res = get("/favicon.svg", &[("accept-encoding", "br, gzip")]).unwrap();
        assert_eq!(header(&res, "cache-control"), Some("public, max-age=3600"));
        assert_eq!(header(&res, "content-type"), Some("image/svg+xml"));
        // Nothing compressed was kept for it (not smaller): sent as it is.
        assert_eq!(header(&res, "content-encoding"), None);
    }

    #[test]
    fn a_matching_etag_gets_304_and_other_paths_and_methods_are_not_ours() {
        let path = "/pkg/app.0123456789abcdef.wasm";
        let first = get(path, &[("accept-encoding", "br")]).unwrap();
        let tag = header(&first, "etag").unwrap().to_string();
        let again = get(path, &[("accept-encoding", "br"), ("if-none-match", &tag)]).unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        // Another encoding is another representation: not the same tag.
        let gzip = get(path, &[("accept-encoding", "gzip")]).unwrap();
        assert_ne!(header(&gzip, "etag"), Some(tag.as_str()));
        assert!(get("/pkg/app.ffffffffffffffff.wasm", &[]).is_none());
        assert!(get("/", &[]).is_none());
        assert!(get("/login", &[]).is_none());
        let post = Request::builder()
            .method(Method::POST)
            .uri("/favicon.svg")
            .body(Body::empty())
            .unwrap();
        assert!(answer(&SITE, HASH, &post).is_none());
    }
}
