//! The files pages link to (issue 28): served from the binary under fingerprinted names with a
//! year of caching, and answered at once on a kept-alive connection (every accepted socket has
//! TCP_NODELAY: without it a response written in two parts waited about 40 ms for the client's
//! delayed ACK; bench/front.sh times it).

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::dual;
use crate::helpers::{linked_assets, TestApp};

dual!(
    every_file_a_page_links_is_served_with_a_year_of_caching,
    accepted_connections_have_tcp_nodelay,
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

/// Every accepted connection has `TCP_NODELAY`, so a response written in two parts (a big
/// file's head, then its body) leaves at once instead of waiting about 40 ms for the client's
/// delayed ACK (Nagle). The option is read on the server's own socket; what it saves is timed
/// by `bench/front.sh` (its "stall" row), not asserted here.
async fn accepted_connections_have_tcp_nodelay(app: TestApp) {
    let mut client = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    // One request answered on a kept-alive connection: the server has accepted it and set it up.
    client
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut head = Vec::new();
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let mut buf = [0u8; 1024];
        let n = client.read(&mut buf).await.unwrap();
        assert!(n > 0, "the connection closed before the answer's head");
        head.extend_from_slice(&buf[..n]);
    }
    assert!(head.starts_with(b"HTTP/1.1 200"), "{head:?}");
    let accepted = app.accepted_socket(client.local_addr().unwrap());
    assert!(
        accepted.nodelay().unwrap(),
        "the server's socket waits for ACKs (Nagle): every response written in two parts \
         stalls about 40 ms on a kept-alive connection"
    );
}
