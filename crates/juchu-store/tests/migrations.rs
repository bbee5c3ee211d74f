//! Upgrades without a stop: from migration 0021 on, a migration only expands
//! the schema (docs/operations.md), so old serves and workers keep running
//! while it applies. This reads every migration of both stores and refuses
//! the statements that would break the version before: dropping, renaming or
//! retyping, and a NOT NULL column added without a default.

const EXPAND_ONLY_FROM: u32 = 21;

fn statements(sql: &str) -> Vec<String> {
    let without_comments: String = sql
        .lines()
        .map(|l| l.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    without_comments
        .split(';')
        .map(|s| {
            s.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_uppercase()
        })
        .filter(|s| !s.is_empty())
        .collect()
}

/// Why a statement would break processes of the version before, if it would.
fn contracting(stmt: &str) -> Option<&'static str> {
    if stmt.starts_with("DROP ") && !stmt.starts_with("DROP INDEX") {
        return Some("drops a table or view the old version uses");
    }
    if stmt.contains(" RENAME ") {
        return Some("renames what the old version names");
    }
    if stmt.starts_with("ALTER TABLE") {
        if stmt.contains(" DROP COLUMN") || stmt.contains(" DROP CONSTRAINT") {
            return Some("drops a column or constraint the old version uses");
        }
        if stmt.contains(" TYPE ") {
            return Some("changes a column's type");
        }
        if stmt.contains(" SET NOT NULL") {
            return Some("makes a column NOT NULL that old code may leave empty");
        }
        if stmt.contains(" ADD COLUMN") && stmt.contains("NOT NULL") && !stmt.contains("DEFAULT") {
            return Some("adds a NOT NULL column without a default: old INSERTs fail");
        }
    }
    if stmt.starts_with("UPDATE ") || stmt.starts_with("DELETE ") {
        return Some("rewrites data old processes may be writing at the same time");
    }
    None
}

#[test]
fn migrations_from_0021_only_expand() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut checked = 0;
    for dialect in ["sqlite", "postgres"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(dialect))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for f in files {
            let name = f.file_name().unwrap().to_string_lossy().to_string();
            let number: u32 = name[..4].parse().unwrap();
            if number < EXPAND_ONLY_FROM {
                continue;
            }
            checked += 1;
            for stmt in statements(&std::fs::read_to_string(&f).unwrap()) {
                if let Some(why) = contracting(&stmt) {
                    panic!("{dialect}/{name}: {why}: {stmt}");
                }
            }
        }
    }
    assert!(checked >= 2, "0021 of both stores was read");
}

#[test]
fn the_check_catches_what_breaks_old_processes() {
    for bad in [
        "DROP TABLE orders",
        "ALTER TABLE orders DROP COLUMN memo",
        "ALTER TABLE orders RENAME COLUMN memo TO note",
        "ALTER TABLE orders ALTER COLUMN total TYPE TEXT",
        "ALTER TABLE orders ADD COLUMN x TEXT NOT NULL",
        "ALTER TABLE orders ALTER COLUMN memo SET NOT NULL",
        "UPDATE orders SET memo = ''",
    ] {
        let s = statements(bad);
        assert!(contracting(&s[0]).is_some(), "{bad}");
    }
    for fine in [
        "CREATE TABLE x (id BIGINT)",
        "ALTER TABLE orders ADD COLUMN x TEXT",
        "ALTER TABLE orders ADD COLUMN x TEXT NOT NULL DEFAULT ''",
        "CREATE INDEX orders_x ON orders (x)",
        "DROP INDEX orders_x",
    ] {
        let s = statements(fine);
        assert!(contracting(&s[0]).is_none(), "{fine}");
    }
}

/// The rolling upgrade itself, on PostgreSQL (several processes share one
/// database there; a SQLite shop runs one process and stops it to upgrade).
/// For every expand-only migration: the schema before it, an old version's
/// job writing orders and their 履歴 the way old code does — only the
/// columns that version must fill — while the new version's first process
/// applies the migration; the job keeps going on the new schema, and the
/// new code reads and changes what it wrote.
mod rolling_upgrade {
    use juchu_store::testing::TestStore;
    use sqlx::Row;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    /// An INSERT of the columns `table` requires in the schema as it is (NOT
    /// NULL, no default, not generated): what any version must supply.
    async fn required_insert(
        pool: &sqlx::PgPool,
        table: &str,
        value: impl Fn(&str, &str) -> String,
    ) -> String {
        let rows = sqlx::query(
            "SELECT column_name, data_type FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name = $1 AND is_nullable = 'NO' \
             AND column_default IS NULL AND is_identity = 'NO' ORDER BY ordinal_position",
        )
        .bind(table)
        .fetch_all(pool)
        .await
        .unwrap();
        let (names, values): (Vec<String>, Vec<String>) = rows
            .iter()
            .map(|r| {
                let name: String = r.get(0);
                let ty: String = r.get(1);
                let v = value(&name, &ty);
                (name, v)
            })
            .unzip();
        format!(
            "INSERT INTO {table} ({}) VALUES ({}) RETURNING id",
            names.join(", "),
            values.join(", ")
        )
    }

    fn literal(name: &str, ty: &str, special: &[(&str, String)]) -> String {
        if let Some((_, v)) = special.iter().find(|(n, _)| *n == name) {
            return v.clone();
        }
        match ty {
            "text" | "character varying" => "'old'".into(),
            "bigint" | "integer" | "smallint" => "0".into(),
            "boolean" => "false".into(),
            other => panic!("column {name}: give the old job a value of type {other}"),
        }
    }

    #[tokio::test]
    async fn an_old_job_keeps_writing_while_each_expand_migration_applies() {
        let probe = TestStore::postgres_unmigrated().await;
        let versions: Vec<i64> = probe
            .store
            .migration_versions()
            .into_iter()
            .filter(|v| *v >= super::EXPAND_ONLY_FROM as i64)
            .collect();
        drop(probe);
        assert!(!versions.is_empty(), "0021 on is expand-only");
        for version in versions {
            upgrade_under_load(version).await;
        }
    }

    async fn upgrade_under_load(version: i64) {
        let t = TestStore::postgres_unmigrated().await;
        t.store.migrate_to(version - 1).await.unwrap();
        // The old version's process: its own pool.
        let old = sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect(&t.url)
            .await
            .unwrap();
        let status_insert = required_insert(&old, "handling_statuses", |n, ty| {
            literal(
                n,
                ty,
                &[
                    ("name", "'旧バージョンの対応状況'".into()),
                    ("position", "99".into()),
                ],
            )
        })
        .await;
        let status_id: i64 = sqlx::query(sqlx::AssertSqlSafe(status_insert))
            .fetch_one(&old)
            .await
            .unwrap()
            .get(0);
        let now = "2026-12-07T00:00:00Z";
        let order_insert = Arc::new(
            required_insert(&old, "orders", |n, ty| {
                literal(
                    n,
                    ty,
                    &[
                        ("order_number", "$1".into()),
                        ("handling_status_id", status_id.to_string()),
                        ("ordered_at", format!("'{now}'")),
                        ("created_at", format!("'{now}'")),
                        ("updated_at", format!("'{now}'")),
                        ("payment_status", "'unpaid'".into()),
                        ("shipment_status", "'not_shipped'".into()),
                        ("shipping_list_state", "'not_exported'".into()),
                        ("version", "1".into()),
                    ],
                )
            })
            .await,
        );
        let history_insert = Arc::new(
            required_insert(&old, "order_history", |n, ty| {
                literal(
                    n,
                    ty,
                    &[
                        ("order_id", "$1".into()),
                        ("at", format!("'{now}'")),
                        ("actor_kind", "'system'".into()),
                        ("actor_name", "'旧バージョン'".into()),
                        ("field", "'memo'".into()),
                    ],
                )
            })
            .await,
        );

        // The old job: one order at a time — create it, change it, record
        // the change — each in its own transaction, until told to stop.
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicUsize::new(0));
        let job = {
            let (old, stop, done) = (old.clone(), stop.clone(), done.clone());
            let (order_insert, history_insert) = (order_insert.clone(), history_insert.clone());
            tokio::spawn(async move {
                let mut i = 0usize;
                while !stop.load(Ordering::SeqCst) {
                    i += 1;
                    let mut tx = old.begin().await?;
                    let id: i64 = sqlx::query(sqlx::AssertSqlSafe(order_insert.as_str()))
                        .bind(format!("OLD-{i}"))
                        .fetch_one(&mut *tx)
                        .await?
                        .get(0);
                    sqlx::query("UPDATE orders SET memo = $1, version = version + 1 WHERE id = $2")
                        .bind(format!("旧バージョンの一括更新 {i}"))
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(sqlx::AssertSqlSafe(history_insert.as_str()))
                        .bind(id)
                        .fetch_one(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    done.fetch_add(1, Ordering::SeqCst);
                }
                Ok::<usize, sqlx::Error>(i)
            })
        };
        let wait_for = |n: usize| {
            let done = done.clone();
            async move {
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
                while done.load(Ordering::SeqCst) < n {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "the old job stalled at {} orders",
                        done.load(Ordering::SeqCst)
                    );
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
            }
        };
        wait_for(20).await;
        // The new version's first process starts: it applies the migration
        // (and seeds what it needs) while the old job runs.
        let before = done.load(Ordering::SeqCst);
        tokio::time::timeout(
            std::time::Duration::from_secs(60),
            t.store.migrate_to(version),
        )
        .await
        .unwrap_or_else(|_| panic!("migration {version} waited over a minute"))
        .unwrap_or_else(|e| panic!("migration {version} under the old job: {e}"));
        // The old job goes on, now on the new schema.
        wait_for(done.load(Ordering::SeqCst) + 20).await;
        stop.store(true, Ordering::SeqCst);
        let written = job
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("the old job failed on migration {version}: {e}"));
        assert!(written > before, "the old job kept writing");

        // The new code reads what the old one wrote, and changes it through
        // its pipeline.
        t.store.migrate().await.unwrap();
        let order = t
            .store
            .order_by_number(&format!("OLD-{written}"))
            .await
            .unwrap_or_else(|e| panic!("the new version reads an old order: {e}"));
        assert_eq!(order.memo, format!("旧バージョンの一括更新 {written}"));
        let history = t.store.order_history(&order.order_number).await.unwrap();
        assert!(
            history.iter().any(|h| h.actor_name == "旧バージョン"),
            "the old 履歴 is there: {history:?}"
        );
        let patch = juchu_domain::patch::OrderPatch {
            memo: Some("新バージョンで更新".into()),
            ..Default::default()
        };
        let changed = t
            .store
            .change_order(
                &order.order_number,
                None,
                &patch,
                &juchu_store::Actor::system("upgrade test"),
                "rolling upgrade",
            )
            .await
            .unwrap();
        assert_eq!(changed.order.memo, "新バージョンで更新");
        assert_eq!(changed.order.version, order.version + 1);
    }
}
