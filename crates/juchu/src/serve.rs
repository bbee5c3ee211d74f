//! `juchu serve` (the web server, admin UI and API, with the worker loops in
//! the same process) and `juchu worker` (the worker loops alone, for more
//! processes on one PostgreSQL store).

use crate::CliError;
use crate::{demo, worker};
use juchu_domain::access::Role;
use juchu_store::Store;

/// Serves on `addr` until the server stops, every worker loop ends, or Ctrl-C.
pub async fn serve(store: Store, addr: &str, demo: bool) -> Result<(), CliError> {
    if demo {
        prepare_demo(&store).await?;
    }
    let app = juchu_web::Application::bind(
        addr,
        juchu_web::AppState::new(store.clone())
            .with_public_url(std::env::var("JUCHU_PUBLIC_URL").ok().as_deref())
            .with_line(std::sync::Arc::new(juchu_adapters::LineSandbox::from_env(
                store.clock.clone(),
            )))
            .with_webhook_guard(std::sync::Arc::new(juchu_adapters::PublicUrlGuard {
                allow_private: juchu_adapters::allow_private_from_env(),
            }))
            .with_required_workers(true),
    )
    .await
    .map_err(|e| CliError::Config(format!("cannot listen on {addr}: {e}")))?;
    let url = format!("http://{}", app.local_addr());
    // Links in customers' mails (マイページ invitations, request forms) start
    // here; never with a request's Host header.
    let public = std::env::var("JUCHU_PUBLIC_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| url.clone());
    store.set_public_url(&public).await?;
    println!(
        "juchu is running: {url}/  (API: {url}/api/v1, reference: {url}/api/docs, health: {url}/readyz, {url}/metrics)"
    );
    if store.staff_count().await? == 0 {
        println!("No staff user exists yet. Create the first one, then log in at {url}/login :");
        println!(
            "  juchu admin create --email you@example.jp --password 'at-least-8-chars' --role owner"
        );
    } else {
        println!("Log in at {url}/login");
    }
    let orders = store
        .search_orders(&juchu_store::OrderQuery {
            per_page: 1,
            ..Default::default()
        })
        .await?;
    if orders.total == 0 {
        println!("The store has no orders. Demo data: juchu demo --orders 10000");
    }
    let line = line_pusher(demo).await?;
    let retention = worker::Retention {
        job_days: retention_days("JUCHU_JOB_RETENTION_DAYS")?,
        event_days: retention_days("JUCHU_EVENT_RETENTION_DAYS")?,
    };
    let workers = workers(&store, Some(retention), line)?;
    tokio::select! {
        r = app.run() => r.map_err(|e| CliError::Stopped(format!("server stopped: {e}")))?,
        () = workers.run() => return Err(CliError::Stopped("every worker loop ended".into())),
        _ = tokio::signal::ctrl_c() => println!("shutting down"),
    }
    Ok(())
}

/// Runs the worker loops until they all end, or Ctrl-C.
pub async fn worker(store: Store) -> Result<(), CliError> {
    println!(
        "juchu worker: running jobs, mail and payment requests on {:?} (Ctrl-C stops)",
        store.backend
    );
    let line = line_pusher(false).await?;
    let workers = workers(&store, None, line)?;
    tokio::select! {
        () = workers.run() => {}
        _ = tokio::signal::ctrl_c() => println!("shutting down"),
    }
    Ok(())
}

async fn prepare_demo(store: &Store) -> Result<(), CliError> {
    let empty = store
        .search_orders(&juchu_store::OrderQuery {
            per_page: 1,
            ..Default::default()
        })
        .await?
        .total
        == 0;
    if empty {
        println!("generating 10,000 demo orders …");
        demo::generate(store, 10_000, 42, true).await?;
    }
    // 出荷設定 with sample codes, so the demo's carrier files can be made.
    if store.shipping_settings().await?.sender_phone.is_empty() {
        store
            .save_shipping_settings(&juchu_domain::carrier_file::ShippingSettings {
                sender_name: "juchu デモ茶舗".into(),
                sender_phone: "03-0000-0000".into(),
                sender_postal_code: "150-0001".into(),
                sender_address1: "東京都渋谷区神宮前1-2-3".into(),
                yamato_customer_code: "012345678901".into(),
                yamato_freight_number: "01".into(),
                sagawa_customer_code: "123456789012".into(),
                default_item_name: "食品".into(),
                ..Default::default()
            })
            .await?;
    }
    if store.staff_count().await? == 0 {
        let password = juchu_store::staff::random_token("")[..16].to_string();
        store
            .create_staff("demo@juchu.example", "デモ管理者", &password, Role::Owner)
            .await?;
        println!("demo login: demo@juchu.example / {password}");
        // A customer with a subscription, to try マイページ as the customer.
        let subs = store
            .search_subscriptions(&juchu_store::subscriptions::SubscriptionQuery {
                status: Some("有効".into()),
                page: 1,
                per_page: 1,
                ..Default::default()
            })
            .await?;
        if let Some(customer_id) = subs.subscriptions.first().and_then(|s| s.customer_id) {
            let password = juchu_store::staff::random_token("")[..16].to_string();
            let user = store
                .set_customer_password_for(customer_id, &password)
                .await?;
            println!(
                "demo customer (マイページ /mypage/login): {} / {password}",
                user.email
            );
        }
    }
    let made = demo::requests(store, 60, 7).await?;
    if made > 0 {
        println!("{made} demo requests in 受信BOX; the automation (RPA設定) is running");
    }
    Ok(())
}

/// SMTP from `JUCHU_SMTP_URL` / `JUCHU_MAIL_FROM`; none when unset.
fn smtp_config() -> Result<Option<juchu_adapters::SmtpConfig>, CliError> {
    match std::env::var("JUCHU_SMTP_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
    {
        Some(url) => Ok(Some(
            juchu_adapters::SmtpConfig::parse(
                &url,
                &std::env::var("JUCHU_MAIL_FROM").unwrap_or_else(|_| "juchu@localhost".into()),
            )
            .map_err(CliError::Config)?,
        )),
        None => Ok(None),
    }
}

/// A retention period in days from `var` (default 30; 0 keeps for ever):
/// `JUCHU_JOB_RETENTION_DAYS` (a finished job's items and result file),
/// `JUCHU_EVENT_RETENTION_DAYS` (webhook events and their delivery log).
fn retention_days(var: &str) -> Result<Option<i64>, CliError> {
    match std::env::var(var) {
        Err(_) => Ok(Some(30)),
        Ok(v) => match v.trim().parse::<i64>() {
            Ok(0) => Ok(None),
            // At most a century: the cutoff is computed in hours.
            Ok(d) if (1..=36_500).contains(&d) => Ok(Some(d)),
            _ => Err(CliError::Config(format!(
                "{var} must be a whole number of days from 0 (keeps them for ever) to 36500, got {v:?}"
            ))),
        },
    }
}

/// The payment provider `JUCHU_PAYMENT_GATEWAY` names: the built-in sandbox
/// (default) or none (`off`: requests stay queued).
fn payment_gateway(
    store: &juchu_store::Store,
) -> Result<Option<juchu_adapters::SandboxGateway>, CliError> {
    match std::env::var("JUCHU_PAYMENT_GATEWAY")
        .unwrap_or_default()
        .trim()
    {
        "" | "sandbox" => {
            let credit_delay = std::env::var("JUCHU_SANDBOX_CREDIT_DELAY_SECS")
                .ok()
                .map(|s| {
                    s.trim().parse::<u64>().map_err(|_| {
                        CliError::Config(format!("JUCHU_SANDBOX_CREDIT_DELAY_SECS must be a number of seconds (got {s:?})"))
                    })
                })
                .transpose()?
                .unwrap_or(30);
            println!(
                "Payments: the built-in SANDBOX provider answers 決済処理 (test cards, no real money). JUCHU_PAYMENT_GATEWAY=off keeps requests queued instead."
            );
            Ok(Some(juchu_adapters::SandboxGateway::new(
                store,
                std::time::Duration::from_secs(credit_delay),
            )))
        }
        "off" => {
            println!(
                "Payments: JUCHU_PAYMENT_GATEWAY=off — 決済処理 requests stay queued (visible on each order)."
            );
            Ok(None)
        }
        other => Err(CliError::Config(format!(
            "JUCHU_PAYMENT_GATEWAY must be sandbox or off (got {other:?}); no real provider can be reached from here"
        ))),
    }
}

/// Where LINE pushes go: LINE itself with `JUCHU_LINE_CHANNEL_TOKEN` (and
/// `JUCHU_LINE_API_URL`, default the official endpoint); the sandbox on
/// loopback with `JUCHU_LINE_PUSH=sandbox` or in the demo; otherwise nowhere
/// (pushes stay queued, visible on the customer page).
async fn line_pusher(demo: bool) -> Result<Option<juchu_adapters::LineMessagingClient>, CliError> {
    if let Some(client) = juchu_adapters::LineMessagingClient::from_env() {
        return client.map(Some).map_err(CliError::Config);
    }
    let sandbox = std::env::var("JUCHU_LINE_PUSH").is_ok_and(|v| v.trim() == "sandbox");
    if !(demo || sandbox) {
        return Ok(None);
    }
    let token = juchu_store::staff::random_token("");
    let sb = juchu_adapters::LinePushSandbox::start(&token)
        .await
        .map_err(|e| CliError::Config(format!("LINE sandbox: {e}")))?;
    println!("LINE pushes go to the sandbox at {}", sb.base_url());
    juchu_adapters::LineMessagingClient::new(&sb.base_url(), &token)
        .map(Some)
        .map_err(CliError::Config)
}

/// A whole number from the environment, `default` when unset.
fn env_number<T: std::str::FromStr>(name: &str, default: T, what: &str) -> Result<T, CliError> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(v) if v.trim().is_empty() => Ok(default),
        Ok(v) => v
            .trim()
            .parse::<T>()
            .map_err(|_| CliError::Config(format!("{name} must be {what} (got {v:?})"))),
    }
}

/// How webhooks are delivered: `JUCHU_WEBHOOK_RETRY_BASE_SECS` (first retry,
/// doubling; default 30), `JUCHU_WEBHOOK_DISABLE_AFTER` (failures in a row
/// before an endpoint is disabled; default 50), `JUCHU_WEBHOOK_TIMEOUT_SECS`
/// (default 10), `JUCHU_WEBHOOK_LEASE_SECS` (a dead worker's deliveries are
/// sent again after this; default 120), `JUCHU_WEBHOOK_ALLOW_PRIVATE`.
fn webhook_delivery() -> Result<
    (
        juchu_adapters::WebhookClient,
        juchu_store::webhooks::WebhookSettings,
    ),
    CliError,
> {
    let d = juchu_store::webhooks::WebhookSettings::default();
    let settings = juchu_store::webhooks::WebhookSettings {
        retry_base_secs: env_number(
            "JUCHU_WEBHOOK_RETRY_BASE_SECS",
            d.retry_base_secs,
            "a number of seconds",
        )?,
        disable_after: env_number(
            "JUCHU_WEBHOOK_DISABLE_AFTER",
            d.disable_after,
            "a number of failures",
        )?
        .max(1),
        lease_secs: env_number(
            "JUCHU_WEBHOOK_LEASE_SECS",
            d.lease_secs,
            "a number of seconds",
        )?
        .max(1),
        concurrency: d.concurrency,
    };
    let timeout = env_number::<u64>("JUCHU_WEBHOOK_TIMEOUT_SECS", 10, "a number of seconds")?;
    // A delivery must end before its lease does, or a second worker sends it too.
    let timeout = timeout.clamp(1, (settings.lease_secs as u64).saturating_sub(1).max(1));
    let client = juchu_adapters::WebhookClient::new(
        std::time::Duration::from_secs(timeout),
        juchu_adapters::allow_private_from_env(),
    )
    .map_err(CliError::Config)?;
    Ok((client, settings))
}

/// The worker loops of a process: jobs, mail and payment requests, the
/// request automation, LINE pushes and webhooks, its heartbeat, and in
/// `juchu serve` (with the jobs' retention) the daily subscription run.
fn workers(
    store: &Store,
    in_process: Option<worker::Retention>,
    line: Option<juchu_adapters::LineMessagingClient>,
) -> Result<worker::Supervisor, CliError> {
    let mut workers = worker::Supervisor::default();
    let mut loops = vec!["requests", "mail", "jobs", "deliveries", "webhooks"];
    let (client, settings) = webhook_delivery()?;
    let s = store.clone();
    workers.spawn("webhooks", move || {
        worker::deliver_webhooks(s.clone(), client.clone(), settings.clone())
    });
    let s = store.clone();
    workers.spawn("requests", move || worker::process_requests(s.clone()));
    if let Some(line) = line {
        loops.push("line");
        let s = store.clone();
        workers.spawn("line", move || {
            worker::deliver_line(s.clone(), line.clone())
        });
    }
    let (s, smtp) = (store.clone(), smtp_config()?);
    workers.spawn("mail", move || {
        worker::deliver_mail(s.clone(), smtp.clone())
    });
    if let Some(gateway) = payment_gateway(store)? {
        loops.push("payments");
        let s = store.clone();
        workers.spawn("payments", move || {
            worker::process_payments(s.clone(), gateway.clone())
        });
    }
    let s = store.clone();
    workers.spawn("jobs", move || worker::run_jobs(s.clone()));
    // Real carriers cannot be reached from here: the sandbox tracker answers.
    let (s, tracker) = (
        store.clone(),
        juchu_adapters::SandboxTracker::new(store.clock.clone()),
    );
    workers.spawn("deliveries", move || {
        worker::track_deliveries(s.clone(), tracker.clone())
    });
    if let Some(retention) = in_process {
        loops.push("subscriptions");
        let s = store.clone();
        workers.spawn("subscriptions", move || {
            worker::run_in_process(s.clone(), retention)
        });
    }
    let s = store.clone();
    let name = worker::process_name(if in_process.is_some() {
        "serve"
    } else {
        "worker"
    });
    let started = store.clock.now_text();
    workers.spawn("heartbeat", move || {
        worker::heartbeat(s.clone(), name.clone(), loops.clone(), started.clone())
    });
    Ok(workers)
}
