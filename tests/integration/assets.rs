//! The files pages link to (issue 28): served from the binary under fingerprinted names with a
//! year of caching, and answered at once on a kept-alive connection (TCP_NODELAY: without it a
//! response written in two parts waited about 40 ms for the client's delayed ACK).

use std::time::{Duration, Instant};

use crate::dual;
use crate::helpers::{linked_assets, TestApp};

dual!(
    every_file_a_page_links_is_served_with_a_year_of_caching,
    static_files_answer_at_once_on_a_kept_alive_connection,
);

async fn every_file_a_page_links_is_served_with_a_year_of_caching(app: TestApp) {
    let c = app.client();
    let (_, _, login) = c.get("/login").await;
    let assets = linked_assets(&login);
    assert_eq!(
        assets.len(),
        4,
        "the stylesheet, the favicon, htmx and app.js: {assets:?}"
    );
    for url in &assets {
        let res = c.http.get(c.url(url)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{url}");
        assert_eq!(
            res.headers()["cache-control"],
            "public, max-age=31536000, immutable",
            "{url}"
        );
        let kind = res.headers()["content-type"].to_str().unwrap().to_owned();
        let wanted = match url.rsplit('.').next() {
            Some("css") => "text/css",
            Some("js") => "text/javascript",
            _ => "image/svg+xml",
        };
        assert!(kind.starts_with(wanted), "{url}: {kind}");
        assert!(
            res.headers().contains_key("x-content-type-options"),
            "{url}"
        );
        assert!(!res.bytes().await.unwrap().is_empty());
        // The name holds the start of the file's SHA-256.
        let file = url.rsplit('/').next().unwrap();
        let parts: Vec<&str> = file.split('.').collect();
        assert!(
            parts
                .iter()
                .any(|p| p.len() == 10 && p.chars().all(|c| c.is_ascii_hexdigit())),
            "{file}"
        );
    }
    // The plain names still answer, revalidated; anything else is 404.
    let plain = c.http.get(c.url("/static/app.css")).send().await.unwrap();
    assert_eq!(plain.status(), 200);
    assert_eq!(plain.headers()["cache-control"], "no-cache");
    for missing in [
        "/static/nope.css",
        "/static/../Cargo.toml",
        "/static/app.0000000000.css",
    ] {
        let res = c.http.get(c.url(missing)).send().await.unwrap();
        assert_eq!(res.status(), 404, "{missing}");
    }
}

async fn static_files_answer_at_once_on_a_kept_alive_connection(app: TestApp) {
    // One connection, kept alive: the client's pool holds at most one.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .http1_only()
        .build()
        .unwrap();
    let (_, _, login) = app.client().get("/login").await;
    // Every file a page loads, the big htmx (written in several parts) and the small favicon.
    for url in linked_assets(&login) {
        kept_alive_median(&http, &app.url(&url)).await;
    }
}

/// Asks for `url` twelve times on one kept-alive connection; the median of the eleven that
/// reuse it must be well under Nagle's 40 ms.
async fn kept_alive_median(http: &reqwest::Client, url: &str) {
    let mut times = Vec::new();
    for _ in 0..12 {
        let started = Instant::now();
        let res = http.get(url).send().await.unwrap();
        assert_eq!(res.status(), 200);
        res.bytes().await.unwrap();
        times.push(started.elapsed());
    }
    // The first opens the connection; the rest reuse it.
    let mut kept = times[1..].to_vec();
    kept.sort();
    let median = kept[kept.len() / 2];
    assert!(
        median < Duration::from_millis(20),
        "{url} on a kept-alive connection took {median:?} (Nagle meeting a delayed ACK is about \
         40 ms): {times:?}"
    );
}
