//! `juchu`: the command line. Thin: every command calls into the store, web or
//! adapters crates.
//!
//! Floors: `worker` and `demo` (on the store and the adapters), then `bench`
//! (which generates its data with `demo`) and `serve` (the web server and the
//! worker loops), then this file's commands.

mod bench;
mod demo;
mod serve;
mod worker;

// Many small allocations per request (rows, JSON): glibc's malloc and free
// took a fifth of the server's CPU under load; mimalloc keeps per-thread pages.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Database connections per process (the pool). Raise it with many
    /// concurrent API clients on PostgreSQL; PostgreSQL's max_connections
    /// must cover every process's pool.
    #[arg(
        long,
        env = "JUCHU_DB_MAX_CONNECTIONS",
        global = true,
        default_value_t = 16
    )]
    db_max_connections: u32,
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
    /// SQLite: copies the database into `DIR/juchu-<UTC time>.db` while
    /// juchu keeps serving (VACUUM INTO). Restore: stop juchu and put the
    /// copy in place of JUCHU_DATA_DIR/juchu.db. PostgreSQL: use pg_dump
    /// (docs/operations.md).
    Backup {
        /// Directory for the copy (created when missing).
        #[arg(long, default_value = "./juchu-backups")]
        to: PathBuf,
    },
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
    /// Gives the member with this email a new random password (printed once),
    /// enables them again if disabled, and ends their sessions: for a lost
    /// owner password.
    ResetPassword {
        #[arg(long)]
        email: String,
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
        max_connections: cli.db_max_connections.clamp(1, 1000),
    };
    let store = Store::connect(&config).await?;
    store.migrate().await?;
    Ok(store)
}

async fn run(cli: Cli) -> Result<(), CliError> {
    match &cli.command {
        Command::Migrate => {
            let store = open(&cli, true).await?;
            println!("migrations applied ({:?})", store.backend);
        }
        Command::Serve { addr, demo } => {
            // `--demo` asks for a store to be filled: a new directory is
            // expected there, not a typo of an existing one.
            let store = open(&cli, *demo).await?;
            serve::serve(store, addr, *demo).await?;
        }
        Command::Backup { to } => {
            let store = open(&cli, false).await?;
            std::fs::create_dir_all(to)
                .map_err(|e| CliError::Config(format!("cannot create {}: {e}", to.display())))?;
            let stamp = store.clock.now().strftime("%Y%m%dT%H%M%SZ").to_string();
            let path = to.join(format!("juchu-{stamp}.db"));
            store.backup_sqlite(&path).await?;
            println!("backup written: {}", path.display());
        }
        Command::Worker => {
            let store = open(&cli, false).await?;
            serve::worker(store).await?;
        }
        Command::Admin {
            command: AdminCommand::ResetPassword { email },
        } => {
            let store = open(&cli, false).await?;
            let password = store.reset_password_by_email(email).await?;
            println!(
                "new password for {} (every session of theirs has ended):",
                email.trim()
            );
            println!("{password}");
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
        Command::Bench(args) => bench::run(
            &cli.database_url,
            cli.db_max_connections.clamp(1, 1000),
            args,
        )
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
