//! `juchu`: the command line. Thin: every command calls into the store, web or
//! adapters crates.
//!
//! Floors: `worker` and `demo` (on the store and the adapters), then `bench`
//! (which generates its data with `demo`), then this file's commands.

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

/// Why a command failed: printed as `error: …`, exit code 1.
#[derive(Debug, thiserror::Error)]
enum CliError {
    /// The store refused or failed (bad input names its field).
    #[error(transparent)]
    Store(#[from] juchu_store::StoreError),
    /// A flag or an environment variable that cannot be used.
    #[error("{0}")]
    Config(String),
    /// The server or the workers stopped.
    #[error("{0}")]
    Stopped(String),
    /// The bench could not measure.
    #[error("bench: {0}")]
    Bench(String),
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
    if store.staff_count().await? == 0 {
        let password = juchu_store::staff::random_token("")[..16].to_string();
        store
            .create_staff("demo@juchu.example", "デモ管理者", &password, Role::Owner)
            .await?;
        println!("demo login: demo@juchu.example / {password}");
    }
    Ok(())
}

fn parse_role(s: &str) -> Result<Role, CliError> {
    Role::parse(s).ok_or_else(|| {
        CliError::Config(format!(
            "unknown role {s:?}: use owner, manager, operator or viewer"
        ))
    })
}

async fn open(cli: &Cli, create_dir: bool) -> Result<Store, CliError> {
    let default_dir = cli.data_dir == std::path::Path::new("./juchu-data");
    let config = StoreConfig {
        database_url: cli.database_url.clone().filter(|s| !s.trim().is_empty()),
        data_dir: cli.data_dir.clone(),
        create_data_dir: create_dir || default_dir,
        max_connections: 8,
    };
    let store = Store::connect(&config).await?;
    store.migrate().await?;
    Ok(store)
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

/// `JUCHU_JOB_RETENTION_DAYS`: how long a finished job keeps its items and
/// result file (default 30 days; 0 keeps them for ever).
fn job_retention_days() -> Result<Option<i64>, CliError> {
    match std::env::var("JUCHU_JOB_RETENTION_DAYS") {
        Err(_) => Ok(Some(30)),
        Ok(v) => match v.trim().parse::<i64>() {
            Ok(0) => Ok(None),
            Ok(d) if d > 0 => Ok(Some(d)),
            _ => Err(CliError::Config(format!(
                "JUCHU_JOB_RETENTION_DAYS must be a whole number of days (0 keeps results for ever), got {v:?}"
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

/// The worker loops of a process: jobs, mail and payment requests, and in
/// `juchu serve` (with the jobs' retention) the daily subscription run.
fn workers(store: &Store, in_process: Option<Option<i64>>) -> Result<worker::Supervisor, CliError> {
    let mut workers = worker::Supervisor::default();
    let (s, smtp) = (store.clone(), smtp_config()?);
    workers.spawn("mail", move || {
        worker::deliver_mail(s.clone(), smtp.clone())
    });
    if let Some(gateway) = payment_gateway(store)? {
        let s = store.clone();
        workers.spawn("payments", move || {
            worker::process_payments(s.clone(), gateway.clone())
        });
    }
    let s = store.clone();
    workers.spawn("jobs", move || worker::run_jobs(s.clone()));
    if let Some(retention) = in_process {
        let s = store.clone();
        workers.spawn("subscriptions", move || {
            worker::run_in_process(s.clone(), retention)
        });
    }
    Ok(workers)
}

async fn run(cli: Cli) -> Result<(), CliError> {
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
                .map_err(|e| CliError::Config(format!("cannot listen on {addr}: {e}")))?;
            let url = format!("http://{}", app.local_addr());
            println!(
                "juchu is running: {url}/  (API: {url}/api/v1, OpenAPI: {url}/api/openapi.json)"
            );
            if store.staff_count().await? == 0 {
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
                .await?;
            if orders.total == 0 {
                println!("The store has no orders. Demo data: juchu demo --orders 10000");
            }
            let workers = workers(&store, Some(job_retention_days()?))?;
            tokio::select! {
                r = app.run() => r.map_err(|e| CliError::Stopped(format!("server stopped: {e}")))?,
                () = workers.run() => return Err(CliError::Stopped("every worker loop ended".into())),
                _ = tokio::signal::ctrl_c() => println!("shutting down"),
            }
        }
        Command::Worker => {
            let store = open(&cli, false).await?;
            println!(
                "juchu worker: running jobs, mail and payment requests on {:?} (Ctrl-C stops)",
                store.backend
            );
            let workers = workers(&store, None)?;
            tokio::select! {
                () = workers.run() => {}
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
                .await?;
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
            let (secret, t) = store.create_api_token(name, role).await?;
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
            let n = demo::generate(&store, *orders, *seed, true).await?;
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
                    juchu_domain::time::parse_date(d)
                        .map_err(|m| CliError::Config(format!("--date {d:?}: {m}")))?,
                ),
                None => None,
            };
            let store = open(&cli, false).await?;
            let day = given.unwrap_or_else(|| store.clock.today());
            let started = std::time::Instant::now();
            let report = store.run_subscriptions(day, &Default::default()).await?;
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
        Command::Bench(args) => bench::run(&cli.database_url, args)
            .await
            .map_err(CliError::Bench)?,
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
