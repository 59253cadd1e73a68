//! The files the pages link to (the stylesheet, the scripts, htmx, the favicon), carried in the
//! binary and served under fingerprinted names (`app.3f2a1b9c0d.css`, the start of the SHA-256 of
//! the bytes, as Rails and Phoenix do) with `cache-control: public, max-age=31536000, immutable`:
//! a browser fetches each once and never asks again, and a changed file has a new name. The plain
//! names still answer, with `no-cache`, for whatever links to them from outside.
//!
//! `PINPANEL_STATIC_DIR` replaces the embedded files with a folder's (for people who restyle the
//! panel): read once, at the first request, and fingerprinted the same way.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// Where the files are served.
pub const PREFIX: &str = "/static";

/// The files pages link to, in the order of [`EMBEDDED`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asset {
    AppCss,
    AppJs,
    PasskeyJs,
    Htmx,
    Favicon,
}

/// The files, as built into the binary: name, bytes, content type.
const EMBEDDED: [(&str, &[u8], &str); 5] = [
    (
        "app.css",
        include_bytes!("../../static/app.css"),
        "text/css; charset=utf-8",
    ),
    (
        "app.js",
        include_bytes!("../../static/app.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "passkey.js",
        include_bytes!("../../static/passkey.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "htmx-2.0.11.min.js",
        include_bytes!("../../static/htmx-2.0.11.min.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "favicon.svg",
        include_bytes!("../../static/favicon.svg"),
        "image/svg+xml",
    ),
];

/// One file, ready to send.
struct File {
    bytes: &'static [u8],
    content_type: &'static str,
    /// Under its fingerprinted name: cached for a year.
    immutable: bool,
}

struct Assets {
    /// Served names (both the fingerprinted and the plain one) to files.
    files: HashMap<String, File>,
    /// The URL pages link to, for each file in the order of [`EMBEDDED`].
    urls: Vec<&'static str>,
}

static ASSETS: LazyLock<Assets> = LazyLock::new(|| {
    let dir = std::env::var_os("PINPANEL_STATIC_DIR").map(std::path::PathBuf::from);
    Assets::load(dir.as_deref())
});

impl Assets {
    fn load(dir: Option<&std::path::Path>) -> Assets {
        let mut files = HashMap::new();
        let mut urls = Vec::new();
        for (name, embedded, content_type) in EMBEDDED {
            // A restyled file from the folder, if it has one; leaked once at start, to be served
            // for the life of the process like the embedded bytes.
            let bytes: &'static [u8] = dir
                .and_then(|d| std::fs::read(d.join(name)).ok())
                .map_or(embedded, |b| Box::leak(b.into_boxed_slice()));
            let served = fingerprinted(name, bytes);
            let url: &'static str = Box::leak(format!("{PREFIX}/{served}").into_boxed_str());
            urls.push(url);
            files.insert(
                served,
                File {
                    bytes,
                    content_type,
                    immutable: true,
                },
            );
            files.insert(
                name.to_owned(),
                File {
                    bytes,
                    content_type,
                    immutable: false,
                },
            );
        }
        Assets { files, urls }
    }
}

/// `app.css` with the start of its bytes' SHA-256 before the extension: `app.3f2a1b9c0d.css`.
fn fingerprinted(name: &str, bytes: &[u8]) -> String {
    let hash = hex::encode(&Sha256::digest(bytes)[..5]);
    match name.rsplit_once('.') {
        Some((stem, ext)) => format!("{stem}.{hash}.{ext}"),
        None => format!("{name}.{hash}"),
    }
}

/// The URL a page links to for a file: its fingerprinted name.
pub fn url(asset: Asset) -> &'static str {
    ASSETS.urls[asset as usize]
}

/// Builds the table now (the server's start), so the first page pays nothing for it.
pub fn warm() {
    LazyLock::force(&ASSETS);
}

/// `GET /static/{file}`.
pub async fn serve(Path(file): Path<String>) -> Response {
    let Some(f) = ASSETS.files.get(&file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let cache = if f.immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(f.content_type),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        f.bytes,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_file_is_linked_by_its_fingerprint_and_served_under_both_names() {
        let assets = Assets::load(None);
        for (i, (name, bytes, _)) in EMBEDDED.iter().enumerate() {
            let url = assets.urls[i];
            let served = url.strip_prefix("/static/").unwrap();
            assert_ne!(served, *name);
            assert_eq!(assets.files[served].bytes, *bytes);
            assert!(assets.files[served].immutable);
            assert!(!assets.files[*name].immutable);
        }
        assert_eq!(fingerprinted("a.css", b"x"), "a.2d711642b7.css");
        assert_eq!(EMBEDDED[Asset::Favicon as usize].0, "favicon.svg");
        assert_eq!(EMBEDDED[Asset::Htmx as usize].0, "htmx-2.0.11.min.js");
    }

    #[test]
    fn a_folder_replaces_the_embedded_files_and_changes_their_names() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("app.css"), "body { color: red }").unwrap();
        let assets = Assets::load(Some(dir.path()));
        let ours = Assets::load(None);
        let (css, js) = (Asset::AppCss as usize, Asset::AppJs as usize);
        assert_ne!(assets.urls[css], ours.urls[css]);
        assert_eq!(assets.urls[js], ours.urls[js]);
        let served = assets.urls[css].strip_prefix("/static/").unwrap();
        assert_eq!(assets.files[served].bytes, b"body { color: red }");
    }
}
