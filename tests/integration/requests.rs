//! A request on its way in: its head and body must arrive in time (slow and half-sent requests
//! are cut off without stopping others), and its id is always our own.

use std::time::Duration;

use pinpanel::startup::ServeSettings;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{spawn_app_with, Backend};

/// Slow clients cannot hold the server: a request head must arrive within the header timeout
/// (30 s by default; 1 s here), hundreds of half-sent requests do not stop others being served,
/// and a request whose body never finishes gets 503 when the request timeout passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_and_half_sent_requests_are_cut_off() {
    let app = spawn_app_with(
        Backend::Sqlite,
        ServeSettings {
            header_read_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(2),
            ..crate::helpers::test_settings()
        },
    )
    .await
    .unwrap();
    let mut half_sent = Vec::new();
    for _ in 0..300 {
        let mut s = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        s.write_all(b"GET /login HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .unwrap();
        half_sent.push(s);
    }
    // Others are served meanwhile.
    let res = reqwest::get(app.url("/healthz")).await.unwrap();
    assert_eq!(res.status(), 200);
    // Every half-sent connection is closed by the server (EOF), within a deadline.
    for s in half_sent.iter_mut().take(20) {
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
            .await
            .expect("the server closes a half-sent request")
            .unwrap_or(0);
        let text = String::from_utf8_lossy(&buf[..n]);
        assert!(n == 0 || text.starts_with("HTTP/1.1 408"), "{text}");
    }
    // A body that never finishes: 503 at the request timeout.
    let mut s = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    s.write_all(
        b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n\
          Content-Length: 100\r\n\r\nusername=a",
    )
    .await
    .unwrap();
    let mut buf = vec![0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
        .await
        .expect("an answer at the request timeout")
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
}

/// A client's `X-Request-Id` is not trusted: every request gets our own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_id_is_always_our_own() {
    let app = crate::helpers::spawn_app(Backend::Sqlite).await.unwrap();
    let res = reqwest::Client::new()
        .get(app.url("/no/such/page"))
        .header("x-request-id", "forged-id")
        .send()
        .await
        .unwrap();
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_ne!(id, "forged-id");
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let body = res.text().await.unwrap();
    assert!(body.contains(&id) && !body.contains("forged-id"), "{body}");
}
