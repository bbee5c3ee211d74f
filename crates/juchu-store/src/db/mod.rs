//! The floor every other module stands on: connecting, transactions, the
//! dialect-specific pieces, binding and reading values, multi-row writes, the
//! clock, tokens and the revision cache. Nothing here names a business area.

mod cache;
mod clock;
mod rows;
mod token;

pub mod keyset;
pub use cache::RevisionCache;
pub use clock::Clock;
pub(crate) use rows::Rows;
pub(crate) use rows::write_rows;
pub use token::{hmac_sha256_hex, hmac_sha256_verify, random_token, uuid_v4};

use crate::StoreError;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Executor, Row, Transaction};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Where the data lives.
#[derive(Clone)]
pub struct StoreConfig {
    /// `postgres://…` or `sqlite://…`; `None` means the SQLite file in `data_dir`.
    pub database_url: Option<String>,
    pub data_dir: PathBuf,
    /// Whether a missing data directory may be created (true for the default
    /// directory and for `juchu migrate`): a mistyped path must not silently
    /// become a new empty database.
    pub create_data_dir: bool,
    pub max_connections: u32,
}

impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password: never print it.
        f.debug_struct("StoreConfig")
            .field(
                "database_url",
                &self.database_url.as_ref().map(|_| "<redacted>"),
            )
            .field("data_dir", &self.data_dir)
            .finish()
    }
}

#[derive(Clone)]
pub struct Store {
    pub(crate) pool: AnyPool,
    pub backend: Backend,
    /// PostgreSQL's URL, for the few readers that need a connection of their
    /// own outside the pool (an export's `COPY`).
    pub(crate) pg_url: Option<std::sync::Arc<str>>,
    /// Masters, rules and settings as of a `masters_revision` (the snapshot module).
    pub(crate) snapshot: RevisionCache,
    /// Where every "now" and "today" of the store comes from.
    pub clock: Clock,
}

pub type Tx = Transaction<'static, Any>;

/// A bind value. Nulls carry their type because PostgreSQL needs it.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Int(Option<i64>),
    Text(Option<String>),
}

impl Arg {
    /// The value as JSON (statements that take many rows as one JSON parameter).
    pub(crate) fn to_json(&self) -> serde_json::Value {
        match self {
            Arg::Int(Some(v)) => (*v).into(),
            Arg::Text(Some(v)) => v.clone().into(),
            Arg::Int(None) | Arg::Text(None) => serde_json::Value::Null,
        }
    }
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::Int(Some(v))
    }
}
impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Self {
        Arg::Int(v)
    }
}
impl From<bool> for Arg {
    fn from(v: bool) -> Self {
        Arg::Int(Some(v as i64))
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(Some(v))
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(Some(v.to_string()))
    }
}
impl From<&String> for Arg {
    fn from(v: &String) -> Self {
        Arg::Text(Some(v.clone()))
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        Arg::Text(v)
    }
}

pub(crate) type AnyQuery<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments>;

/// Builds a query from SQL assembled at run time (placeholders only, never user text).
pub(crate) fn query_with(sql: String, args: Vec<Arg>) -> AnyQuery<'static> {
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for a in args {
        q = match a {
            Arg::Int(v) => q.bind(v),
            Arg::Text(v) => q.bind(v),
        };
    }
    q
}

/// Bind values per multi-row statement. sqlx-sqlite resolves each `$n` by name, and
/// that lookup walks all the statement's parameters, so binding is quadratic in the
/// parameter count: keep SQLite statements small (measured: 76% of demo-load time
/// went to `sqlite3_bind_parameter_name` with 6,000-parameter statements).
pub(crate) const fn max_binds(backend: Backend) -> usize {
    match backend {
        Backend::Sqlite => 500,
        // The protocol allows 65,535, but statements near that size made the
        // server work far harder (the 1M-order load fell from ~4,200 to ~1,100
        // orders/s at 60,000): 20,000 is the measured sweet spot.
        Backend::Postgres => 20_000,
    }
}

/// Rows per multi-row statement of `cols` columns.
pub(crate) fn rows_per_statement(backend: Backend, cols: usize) -> usize {
    (max_binds(backend) / cols.max(1)).max(1)
}

/// `sql` with its one `$?` numbered `$n` (the value's place in the arguments):
/// how the conditions of every search get their numbers as values are added.
pub(crate) fn numbered(sql: &str, n: usize) -> String {
    sql.replace("$?", &format!("${n}"))
}

/// `$start, $start+1, …` (n of them), for `IN (…)` lists.
pub(crate) fn in_list(n: usize, start: usize) -> String {
    (start..start + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `($1, $2, …), ($n, …)` for `rows` rows of `cols` columns starting at `$start`.
pub(crate) fn values_placeholders(rows: usize, cols: usize, start: usize) -> String {
    let mut s = String::with_capacity(rows * cols * 5);
    let mut n = start;
    for r in 0..rows {
        if r > 0 {
            s.push_str(", ");
        }
        s.push('(');
        for c in 0..cols {
            if c > 0 {
                s.push_str(", ");
            }
            s.push('$');
            s.push_str(&n.to_string());
            n += 1;
        }
        s.push(')');
    }
    s
}

pub fn get_i64(row: &AnyRow, col: &str) -> Result<i64, sqlx::Error> {
    row.try_get::<i64, _>(col)
}
pub fn get_opt_i64(row: &AnyRow, col: &str) -> Result<Option<i64>, sqlx::Error> {
    row.try_get::<Option<i64>, _>(col)
}
pub fn get_str(row: &AnyRow, col: &str) -> Result<String, sqlx::Error> {
    row.try_get::<String, _>(col)
}
pub fn get_opt_str(row: &AnyRow, col: &str) -> Result<Option<String>, sqlx::Error> {
    row.try_get::<Option<String>, _>(col)
}
pub fn get_bool(row: &AnyRow, col: &str) -> Result<bool, sqlx::Error> {
    Ok(row.try_get::<i64, _>(col)? != 0)
}

impl Store {
    /// Opens the store. On SQLite the database file is created in the data
    /// directory when missing; the directory itself only when allowed.
    pub async fn connect(config: &StoreConfig) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let (url, backend) = match &config.database_url {
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
                (u.clone(), Backend::Postgres)
            }
            Some(u) if u.starts_with("sqlite:") => {
                let path = u
                    .trim_start_matches("sqlite://")
                    .trim_start_matches("sqlite:");
                let path = path.split('?').next().unwrap_or(path);
                check_parent_exists(Path::new(path))?;
                // An explicit file that is not there is most likely a typo: only
                // `juchu migrate` (or a caller that says so) may create it.
                if !Path::new(path).exists() {
                    if !config.create_data_dir {
                        return Err(StoreError::Other(format!(
                            "no juchu database at {path}. Check JUCHU_DATABASE_URL, or create it with `juchu migrate`."
                        )));
                    }
                    tracing::warn!("no database at {path}: creating a new empty one");
                }
                (format!("sqlite://{path}?mode=rwc"), Backend::Sqlite)
            }
            Some(u) => {
                return Err(StoreError::Other(format!(
                    "JUCHU_DATABASE_URL must start with postgres:// or sqlite:// (got {:?})",
                    u.split(':').next().unwrap_or("")
                )));
            }
            None => {
                let dir = &config.data_dir;
                if !dir.is_dir() {
                    if config.create_data_dir {
                        std::fs::create_dir_all(dir).map_err(|e| {
                            StoreError::Other(format!(
                                "cannot create data directory {}: {e}",
                                dir.display()
                            ))
                        })?;
                    } else {
                        return Err(StoreError::Other(format!(
                            "data directory {} does not exist. Check JUCHU_DATA_DIR, or create it with `juchu migrate`.",
                            dir.display()
                        )));
                    }
                }
                let file = dir.join("juchu.db");
                if !file.exists() {
                    // Not silent: the operator sees where the new store lives.
                    tracing::warn!(
                        "no database in {}: creating a new empty one at {}",
                        dir.display(),
                        file.display()
                    );
                }
                (
                    format!("sqlite://{}?mode=rwc", file.display()),
                    Backend::Sqlite,
                )
            }
        };
        let mut options = AnyPoolOptions::new()
            .max_connections(config.max_connections)
            .acquire_timeout(Duration::from_secs(30));
        if backend == Backend::Sqlite {
            options = options.after_connect(|conn, _meta| {
                Box::pin(async move {
                    // WAL lets readers run beside the writer; FULL makes each commit
                    // durable (an order is money); the busy timeout waits for the
                    // writer instead of failing. A 32 MB page cache (the default is
                    // 2 MB) holds a chunk's dirty pages: with 2 MB the subscription
                    // run spilled them to the WAL mid-transaction (pagerStress, a
                    // tenth of its CPU) and read pages back by the thousand. It is a
                    // ceiling per connection, filled only as pages are read.
                    // Checkpoints every 4,000 WAL pages (16 MB) instead of 1,000:
                    // chunked work rewrites the same index pages commit after
                    // commit, and each checkpoint copied them into the file again
                    // (a tenth of a bulk update's samples at 1,000). At 10,000 the
                    // reads that followed went through a long WAL (an export took
                    // half as long again).
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = FULL").await?;
                    conn.execute("PRAGMA busy_timeout = 10000").await?;
                    conn.execute("PRAGMA cache_size = -32768").await?;
                    conn.execute("PRAGMA wal_autocheckpoint = 4000").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    Ok(())
                })
            });
        }
        if backend == Backend::Postgres {
            // Surface the real reason (refused, unknown database, auth) at once
            // instead of a pool timeout later.
            let probe = tokio::time::timeout(
                Duration::from_secs(10),
                <sqlx::AnyConnection as sqlx::Connection>::connect(&url),
            )
            .await;
            match probe {
                Ok(Ok(conn)) => {
                    let _ = sqlx::Connection::close(conn).await;
                }
                Ok(Err(e)) => {
                    return Err(StoreError::Other(format!(
                        "cannot connect to PostgreSQL (JUCHU_DATABASE_URL): {e}"
                    )));
                }
                Err(_) => {
                    return Err(StoreError::Other(
                        "cannot connect to PostgreSQL (JUCHU_DATABASE_URL): no answer within 10 s"
                            .into(),
                    ));
                }
            }
        }
        let pool = options.connect(&url).await?;
        Ok(Store {
            pool,
            backend,
            pg_url: (backend == Backend::Postgres).then(|| url.as_str().into()),
            snapshot: Default::default(),
            clock: Clock::system(),
        })
    }

    /// Starts a write transaction. SQLite takes the write lock up front
    /// (`BEGIN IMMEDIATE`) so two writers never deadlock upgrading a read lock.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Starts a read-only transaction that sees one snapshot for all its queries
    /// (SQLite's deferred transaction in WAL mode already does).
    pub(crate) async fn begin_read(&self) -> Result<Tx, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin().await?,
            Backend::Postgres => {
                self.pool
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?
            }
        })
    }

    /// ` FOR UPDATE` where the store has row locks (SQLite locks the whole file).
    pub(crate) fn lock_suffix(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        }
    }

    /// Reserves `n` consecutive-or-not order ids inside the transaction.
    /// New order ids and, on PostgreSQL, which of their derived order numbers
    /// (`"123"`) an imported order already uses — in the same round trip, as
    /// intake is round-trip bound there. `None`: not checked (the caller asks).
    pub(crate) async fn allocate_order_ids(
        &self,
        tx: &mut Tx,
        n: usize,
    ) -> Result<(Vec<i64>, Option<std::collections::HashSet<String>>), StoreError> {
        if self.backend == Backend::Sqlite || n == 0 {
            return Ok((self.allocate_ids(tx, "orders", n).await?, None));
        }
        let rows = sqlx::query(
            // A correlated lookup per id (the unique index), not a join: the planner
            // would hash-join the whole orders table (0.25 s at 1M orders).
            "SELECT n.id, (SELECT o.order_number FROM orders o WHERE o.order_number = CAST(n.id AS TEXT)) AS taken \
             FROM (SELECT nextval(pg_get_serial_sequence('orders', 'id')) AS id FROM generate_series(1, $1)) n ORDER BY n.id",
        )
        .bind(n as i64)
        .fetch_all(&mut **tx)
        .await?;
        let mut ids = Vec::with_capacity(n);
        let mut taken = std::collections::HashSet::new();
        for r in &rows {
            ids.push(get_i64(r, "id")?);
            if let Some(t) = get_opt_str(r, "taken")? {
                taken.insert(t);
            }
        }
        Ok((ids, Some(taken)))
    }

    /// `n` new ids of `table`, known before the rows are written so that related
    /// rows can be written in the same statement.
    pub(crate) async fn allocate_ids(
        &self,
        tx: &mut Tx,
        table: &'static str,
        n: usize,
    ) -> Result<Vec<i64>, StoreError> {
        if n == 0 {
            return Ok(Vec::new());
        }
        match self.backend {
            // The write lock from BEGIN IMMEDIATE makes MAX(id)+k safe.
            Backend::Sqlite => {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT COALESCE(MAX(id), 0) AS m FROM {table}"
                )))
                .fetch_one(&mut **tx)
                .await?;
                let max = get_i64(&row, "m")?;
                Ok((1..=n as i64).map(|k| max + k).collect())
            }
            Backend::Postgres => {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT nextval(pg_get_serial_sequence('{table}', 'id')) AS id FROM generate_series(1, $1)"
                )))
                .bind(n as i64)
                .fetch_all(&mut **tx)
                .await?;
                rows.iter()
                    .map(|r| get_i64(r, "id").map_err(StoreError::from))
                    .collect()
            }
        }
    }

    /// `true` when a trivial query answers (for `/healthz`).
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn check_parent_exists(path: &Path) -> Result<(), StoreError> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !parent.is_dir() {
        return Err(StoreError::Other(format!(
            "directory {} of the SQLite database does not exist; refusing to create a new empty database there",
            parent.display()
        )));
    }
    Ok(())
}

/// Marks masters, rules or settings as changed, inside the writer's transaction, so
/// every process reloads its cached snapshot on its next change (see
/// the snapshot module). The value is random rather than a counter: it only needs
/// to differ.
pub(crate) async fn bump_masters_revision(
    conn: &mut sqlx::AnyConnection,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE settings SET value = $1 WHERE key = 'masters_revision'")
        .bind(random_token(""))
        .execute(conn)
        .await?;
    Ok(())
}

/// Creates a PostgreSQL database (bench and tests). `name` must be a plain
/// identifier made by the caller, never user input.
pub async fn create_pg_database(server_url: &str, name: &str) -> Result<(), StoreError> {
    debug_assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(server_url).await?;
    conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await?;
    Ok(())
}

/// Drops a PostgreSQL database from synchronous code (a `Drop`), on its own thread
/// and runtime, ending any connections still open to it.
pub fn drop_pg_database_blocking(server_url: &str, name: &str) {
    let (server_url, name) = (server_url.to_string(), name.to_string());
    let _ = std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async {
            if let Ok(mut c) = <sqlx::AnyConnection as sqlx::Connection>::connect(&server_url).await
            {
                let _ = c
                    .execute(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .await;
            }
        });
    })
    .join();
}

impl Store {
    /// The same store with another clock (tests and the bench set the time).
    pub fn with_clock(mut self, clock: Clock) -> Store {
        self.clock = clock;
        self
    }

    /// PostgreSQL: the database name; SQLite: the main database file path.
    pub async fn current_database_name(&self) -> Result<String, StoreError> {
        let sql = match self.backend {
            Backend::Postgres => "SELECT CAST(current_database() AS TEXT) AS name",
            Backend::Sqlite => "SELECT file AS name FROM pragma_database_list WHERE name = 'main'",
        };
        Ok(get_str(
            &sqlx::query(sql).fetch_one(&self.pool).await?,
            "name",
        )?)
    }
}
