//! `juchu worker` killed (SIGKILL) while a webhook request is in flight —
//! the receiver got it but the worker never recorded the answer — then
//! started again: the event is delivered again with the same id
//! (at least once), and the delivery ends succeeded, on SQLite and on
//! PostgreSQL.

use juchu_store::Store;
use juchu_store::testing::{TestStore, count};
use juchu_store::webhooks::EndpointInput;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Event ids received, in order; the first request is held (never answered).
#[derive(Default)]
struct Seen {
    ids: Vec<String>,
}

/// A receiver on loopback, plain HTTP/1.1: records each body's event id;
/// holds the first request open without answering, answers 200 afterwards.
async fn receiver(seen: Arc<Mutex<Seen>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // Read the head, then the body by Content-Length.
                let body = loop {
                    let Ok(n) = sock.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(at) = text.find("\r\n\r\n") {
                        let len: usize = text[..at]
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse().ok())?
                            })
                            .unwrap_or(0);
                        if buf.len() >= at + 4 + len {
                            break String::from_utf8_lossy(&buf[at + 4..at + 4 + len]).to_string();
                        }
                    }
                };
                let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                let first = {
                    let mut g = seen.lock().unwrap();
                    g.ids.push(v["id"].as_str().unwrap_or("").to_string());
                    g.ids.len() == 1
                };
                if first {
                    // Held until the worker is killed.
                    tokio::time::sleep(Duration::from_secs(600)).await;
                    return;
                }
                let _ = sock
                    .write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                    )
                    .await;
            });
        }
    });
    url
}

fn worker(url: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_juchu"))
        .arg("worker")
        .env("JUCHU_DATABASE_URL", url)
        .env("JUCHU_LOG", "error")
        .env("JUCHU_PAYMENT_GATEWAY", "off")
        .env("JUCHU_WEBHOOK_ALLOW_PRIVATE", "true")
        .env("JUCHU_WEBHOOK_LEASE_SECS", "3")
        .env("JUCHU_WEBHOOK_TIMEOUT_SECS", "2")
        .env("JUCHU_WEBHOOK_RETRY_BASE_SECS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start juchu worker")
}

async fn wait_for(secs: u64, done: impl Fn() -> bool) {
    let started = Instant::now();
    while !done() && started.elapsed() < Duration::from_secs(secs) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn killed_mid_delivery(t: TestStore) {
    let store: Store = t.store.clone();
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let url = receiver(seen.clone()).await;
    store
        .create_webhook_endpoint(&EndpointInput {
            url,
            description: String::new(),
            events: vec!["*".into()],
            secret: Some("whsec_crash_test_0123456789".into()),
            enabled: true,
        })
        .await
        .unwrap();
    // A test delivery goes through the same claim, lease and record as
    // every event (and is not retried after an answered failure, so a second
    // arrival here can only be the lease's redelivery).
    let endpoint = store.webhook_endpoints().await.unwrap()[0].id;
    let event_id = store.test_webhook(endpoint).await.unwrap();

    let mut child = worker(&t.url);
    wait_for(60, || !seen.lock().unwrap().ids.is_empty()).await;
    assert_eq!(
        seen.lock().unwrap().ids,
        std::slice::from_ref(&event_id),
        "the first attempt arrived"
    );
    // The receiver holds the answer; the worker dies before recording it.
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status = 'sending'"
        )
        .await,
        1,
        "claimed, not recorded"
    );
    let mut child = worker(&t.url);
    // After the lease (3 s) the new worker sends it again.
    wait_for(60, || seen.lock().unwrap().ids.len() >= 2).await;
    let mut done = 0;
    for _ in 0..100 {
        done = count(
            &store,
            "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status = 'succeeded'",
        )
        .await;
        if done == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    let ids = seen.lock().unwrap().ids.clone();
    assert_eq!(ids.len(), 2, "delivered again after the crash: {ids:?}");
    assert!(
        ids.iter().all(|i| *i == event_id),
        "the same event id: {ids:?}"
    );
    assert_eq!(done, 1, "the delivery ends succeeded");
}

#[tokio::test]
async fn sqlite() {
    killed_mid_delivery(TestStore::sqlite().await).await;
}

#[tokio::test]
async fn postgres() {
    killed_mid_delivery(TestStore::postgres().await).await;
}
