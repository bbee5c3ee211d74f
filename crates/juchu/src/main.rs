//! `juchu`: the command line. Thin: every command calls into the store or web crates.

mod bench;
mod demo;
mod worker;

use clap::{Parser, Subcommand};
use juchu_domain::access::Role;
use juchu_store::{Store, StoreConfig};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "juchu",
    version,
    about = "juchu (受注): order management back office for Japanese D2C and subscription shops.",
    long_about = "juchu (受注): order management back office for Japanese D2C and subscription shops.\n\n\
    Storage: SQLite file under JUCHU_DATA_DIR (default ./juchu-data) unless JUCHU_DATABASE_URL=postgres://… is set."
)]
struct Cli {
    /// PostgreSQL (postgres://…) or SQLite (sqlite://path) URL; absent: SQLite under the data directory.
    #[arg(
        long,
        env = "JUCHU_DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    database_url: Option<String>,
    /// Data directory for the embedded SQLite store.
    #[arg(
        long,
        env = "JUCHU_DATA_DIR",
        global = true,
        default_value = "./juchu-data"
    )]
    data_dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web server (admin UI, JSON API) and the in-process worker (the daily
    /// subscription run), with migrations applied on start.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: String,
        /// Try-out mode: on an empty store, generate 10,000 demo orders and, if no
        /// staff user exists, a demo owner whose password is printed.
        #[arg(long)]
        demo: bool,
    },
    /// Run jobs (一括処理), mail delivery and payment requests without the web
    /// server: extra workers sharing one PostgreSQL store (FOR UPDATE SKIP
    /// LOCKED), or a separate worker for the SQLite file.
    Worker,
    /// Create or upgrade the database schema (creates the data directory if needed).
    Migrate,
    /// Manage staff users.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Generate realistic demo data (Japanese customers, products, orders over two years).
    Demo {
        /// How many orders to create.
        #[arg(long, default_value_t = 1000)]
        orders: usize,
        /// Random seed (the same seed gives the same data).
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Subscriptions (定期受注).
    Subscriptions {
        #[command(subcommand)]
        command: SubscriptionsCommand,
    },
    /// Benchmarks: each operation next to the raw SQL doing the same work, in one run.
    /// Runs in a fresh database (a temporary SQLite file, or a new database on the
    /// PostgreSQL server of JUCHU_DATABASE_URL) that is removed afterwards.
    Bench(bench::BenchArgs),
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a staff user (the first one is usually the owner).
    Create {
        #[arg(long)]
        email: String,
        /// At least 8 characters; a random one is generated and printed when absent.
        #[arg(long)]
        password: Option<String>,
        #[arg(long)]
        name: Option<String>,
        /// owner, manager, operator or viewer.
        #[arg(long, default_value = "owner")]
        role: String,
    },
}

#[derive(Subcommand)]
enum SubscriptionsCommand {
    /// 自動受注作成: create the child orders due as of a date. Safe to run again:
    /// the same date's run twice creates nothing new, and a stopped run resumes.
    Run {
        /// The day to run as (YYYY-MM-DD, Japan); default today.
        #[arg(long)]
        date: Option<String>,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create an API token; the token is printed on the last line (shown only once).
    Create {
        #[arg(long)]
        name: String,
        /// owner, manager, operator or viewer.
        #[arg(long, default_value = "operator")]
        role: String,
    },
}

async fn prepare_demo(store: &Store) -> Result<(), String> {
    let e = |e: juchu_store::StoreError| e.to_string();
    let empty = store
        .search_orders(&juchu_store::OrderQuery {
            per_page: 1,
            ..Default::default()
        })
        .await
        .map_err(e)?
        .total
        == 0;
    if empty {
        println!("generating 10,000 demo orders …");
        demo::generate(store, 10_000, 42, true).await.map_err(e)?;
    }
    if store.staff_count().await.map_err(e)? == 0 {
        let password = juchu_store::staff::random_token("")[..16].to_string();
        store
            .create_staff("demo@juchu.example", "デモ管理者", &password, Role::Owner)
            .await
            .map_err(e)?;
        println!("demo login: demo@juchu.example / {password}");
    }
    Ok(())
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s)
        .ok_or_else(|| format!("unknown role {s:?}: use owner, manager, operator or viewer"))
}

async fn open(cli: &Cli, create_dir: bool) -> Result<Store, String> {
    let default_dir = cli.data_dir == std::path::Path::new("./juchu-data");
    let config = StoreConfig {
        database_url: cli.database_url.clone().filter(|s| !s.trim().is_empty()),
        data_dir: cli.data_dir.clone(),
        create_data_dir: create_dir || default_dir,
        max_connections: 8,
    };
    let store = Store::connect(&config).await.map_err(|e| e.to_string())?;
    store.migrate().await.map_err(|e| e.to_string())?;
    Ok(store)
}

/// SMTP from `JUCHU_SMTP_URL` / `JUCHU_MAIL_FROM`; none when unset.
fn smtp_config() -> Result<Option<juchu_adapters::SmtpConfig>, String> {
    match std::env::var("JUCHU_SMTP_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
    {
        Some(url) => Ok(Some(juchu_adapters::SmtpConfig::parse(
            &url,
            &std::env::var("JUCHU_MAIL_FROM").unwrap_or_else(|_| "juchu@localhost".into()),
        )?)),
        None => Ok(None),
    }
}

/// `JUCHU_JOB_RETENTION_DAYS`: how long a finished job keeps its items and
/// result file (default 30 days; 0 keeps them for ever).
fn job_retention_days() -> Result<Option<i64>, String> {
    match std::env::var("JUCHU_JOB_RETENTION_DAYS") {
        Err(_) => Ok(Some(30)),
        Ok(v) => match v.trim().parse::<i64>() {
            Ok(0) => Ok(None),
            Ok(d) if d > 0 => Ok(Some(d)),
            _ => Err(format!(
                "JUCHU_JOB_RETENTION_DAYS must be a whole number of days (0 keeps results for ever), got {v:?}"
            )),
        },
    }
}

/// The payment provider `JUCHU_PAYMENT_GATEWAY` names: the built-in sandbox
/// (default) or none (`off`: requests stay queued).
fn payment_gateway(
    store: &juchu_store::Store,
) -> Result<Option<juchu_adapters::SandboxGateway>, String> {
    match std::env::var("JUCHU_PAYMENT_GATEWAY")
        .unwrap_or_default()
        .trim()
    {
        "" | "sandbox" => {
            let credit_delay = std::env::var("JUCHU_SANDBOX_CREDIT_DELAY_SECS")
                .ok()
                .map(|s| {
                    s.trim().parse::<u64>().map_err(|_| {
                        format!("JUCHU_SANDBOX_CREDIT_DELAY_SECS must be a number of seconds (got {s:?})")
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
        other => Err(format!(
            "JUCHU_PAYMENT_GATEWAY must be sandbox or off (got {other:?}); no real provider can be reached from here"
        )),
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    match &cli.command {
        Command::Migrate => {
            let store = open(&cli, true).await?;
            println!("migrations applied ({:?})", store.backend);
        }
        Command::Serve { addr, demo } => {
            let store = open(&cli, false).await?;
            if *demo {
                prepare_demo(&store).await?;
            }
            let app = juchu_web::Application::bind(addr, juchu_web::AppState::new(store.clone()))
                .await
                .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
            let url = format!("http://{}", app.local_addr());
            println!(
                "juchu is running: {url}/  (API: {url}/api/v1, OpenAPI: {url}/api/openapi.json)"
            );
            if store.staff_count().await.map_err(|e| e.to_string())? == 0 {
                println!(
                    "No staff user exists yet. Create the first one, then log in at {url}/login :"
                );
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
                .await
                .map_err(|e| e.to_string())?;
            if orders.total == 0 {
                println!("The store has no orders. Demo data: juchu demo --orders 10000");
            }
            tokio::spawn(worker::deliver_mail(store.clone(), smtp_config()?));
            if let Some(gateway) = payment_gateway(&store)? {
                tokio::spawn(worker::process_payments(store.clone(), gateway));
            }
            tokio::spawn(worker::run_jobs(store.clone()));
            let worker = tokio::spawn(worker::run_in_process(store.clone(), job_retention_days()?));
            tokio::select! {
                r = app.run() => r.map_err(|e| format!("server stopped: {e}"))?,
                r = worker => return Err(format!("in-process worker stopped: {r:?}")),
                _ = tokio::signal::ctrl_c() => println!("shutting down"),
            }
        }
        Command::Worker => {
            let store = open(&cli, false).await?;
            println!(
                "juchu worker: running jobs, mail and payment requests on {:?} (Ctrl-C stops)",
                store.backend
            );
            tokio::spawn(worker::deliver_mail(store.clone(), smtp_config()?));
            if let Some(gateway) = payment_gateway(&store)? {
                tokio::spawn(worker::process_payments(store.clone(), gateway));
            }
            tokio::select! {
                _ = worker::run_jobs(store.clone()) => {}
                _ = tokio::signal::ctrl_c() => println!("shutting down"),
            }
        }
        Command::Admin {
            command:
                AdminCommand::Create {
                    email,
                    password,
                    name,
                    role,
                },
        } => {
            let role = parse_role(role)?;
            let store = open(&cli, false).await?;
            let (password, generated) = match password {
                Some(p) => (p.clone(), false),
                None => (juchu_store::staff::random_token("")[..20].to_string(), true),
            };
            let user = store
                .create_staff(email, name.as_deref().unwrap_or(""), &password, role)
                .await
                .map_err(|e| e.to_string())?;
            println!("created staff user {} ({})", user.email, user.role.code());
            if generated {
                println!("password: {password}");
            }
        }
        Command::Token {
            command: TokenCommand::Create { name, role },
        } => {
            let role = parse_role(role)?;
            let store = open(&cli, false).await?;
            let (secret, t) = store
                .create_api_token(name, role)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "created API token #{} {:?} with role {} — use it as: Authorization: Bearer <token>",
                t.id,
                t.name,
                t.role.code()
            );
            println!("{secret}");
        }
        Command::Demo { orders, seed } => {
            let store = open(&cli, false).await?;
            let started = std::time::Instant::now();
            let n = demo::generate(&store, *orders, *seed, true)
                .await
                .map_err(|e| e.to_string())?;
            let secs = started.elapsed().as_secs_f64();
            println!(
                "created {n} demo orders in {secs:.1} s ({:.0} orders/s)",
                n as f64 / secs.max(0.001)
            );
        }
        Command::Subscriptions {
            command: SubscriptionsCommand::Run { date },
        } => {
            let given = match date {
                Some(d) => Some(
                    juchu_domain::time::parse_date(d).map_err(|m| format!("--date {d:?}: {m}"))?,
                ),
                None => None,
            };
            let store = open(&cli, false).await?;
            let day = given.unwrap_or_else(|| store.clock.today());
            let started = std::time::Instant::now();
            let report = store
                .run_subscriptions(day, &Default::default())
                .await
                .map_err(|e| e.to_string())?;
            for (id, why) in &report.failed {
                println!("定期受注 #{id}: not created: {why}");
            }
            println!(
                "subscription run for {day}: {} orders created, {} flagged subscriptions skipped, {} failed ({:.1} s)",
                report.created,
                report.skipped_flagged,
                report.failed.len(),
                started.elapsed().as_secs_f64()
            );
        }
        Command::Bench(args) => bench::run(&cli.database_url, args).await?,
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // The bench runs huge statements on purpose: sqlx's slow-statement warnings
    // would bury its figures.
    let default_filter = if matches!(cli.command, Command::Bench(_)) {
        "info,sqlx=error"
    } else {
        "info,sqlx=warn"
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("JUCHU_LOG")
                .unwrap_or_else(|_| default_filter.into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
