//! Fresh stores for tests: a temporary SQLite file, or a new PostgreSQL database
//! that is dropped afterwards. PostgreSQL being unreachable fails the test: the
//! suite never silently skips a backend.

use crate::{Store, StoreConfig};

/// Where test databases are created (`JUCHU_TEST_PG_URL`, default the local server).
pub fn pg_admin_url() -> String {
    std::env::var("JUCHU_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

pub struct TestStore {
    pub store: Store,
    /// Keeps the SQLite directory alive.
    _dir: Option<tempfile_dir::TempDir>,
    pg_db: Option<String>,
    pub url: String,
}

/// A tiny temp-dir type so the library does not depend on `tempfile`.
mod tempfile_dir {
    pub struct TempDir(pub std::path::PathBuf);
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl TestStore {
    pub async fn sqlite() -> TestStore {
        let dir =
            std::env::temp_dir().join(format!("juchu-test-{}", &crate::db::random_token("")[..16]));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        let url = format!("sqlite://{}/juchu.db", dir.display());
        let store = Store::connect(&StoreConfig {
            database_url: Some(url.clone()),
            data_dir: dir.clone(),
            create_data_dir: true,
            max_connections: 4,
        })
        .await
        .expect("open sqlite");
        store.migrate().await.expect("migrate sqlite");
        TestStore {
            store,
            _dir: Some(tempfile_dir::TempDir(dir)),
            pg_db: None,
            url,
        }
    }

    pub async fn postgres() -> TestStore {
        let t = TestStore::postgres_unmigrated().await;
        t.store.migrate().await.expect("migrate postgres");
        t
    }

    /// A new PostgreSQL database with no schema yet (upgrade tests choose
    /// which migrations to apply).
    pub async fn postgres_unmigrated() -> TestStore {
        let admin = pg_admin_url();
        let name = format!("juchu_test_{}", &crate::db::random_token("")[..16]);
        crate::db::create_pg_database(&format!("{admin}/postgres"), &name)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "PostgreSQL is required for the test suite and is unreachable at {admin}: {e}"
                )
            });
        let url = format!("{admin}/{name}");
        let store = Store::connect(&StoreConfig {
            database_url: Some(url.clone()),
            data_dir: std::env::temp_dir(),
            create_data_dir: false,
            max_connections: 4,
        })
        .await
        .expect("open postgres");
        TestStore {
            store,
            _dir: None,
            pg_db: Some(name),
            url,
        }
    }
}

impl Drop for TestStore {
    fn drop(&mut self) {
        if let Some(name) = self.pg_db.take() {
            crate::db::drop_pg_database_blocking(&format!("{}/postgres", pg_admin_url()), &name);
        }
    }
}

/// Runs an async test body against both stores:
/// `both_stores!(name, |store| async move { … });`
#[macro_export]
macro_rules! both_stores {
    ($name:ident, |$store:ident| $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test]
            async fn sqlite() {
                let t = $crate::testing::TestStore::sqlite().await;
                let $store = t.store.clone();
                $body.await;
            }
            #[tokio::test]
            async fn postgres() {
                let t = $crate::testing::TestStore::postgres().await;
                let $store = t.store.clone();
                $body.await;
            }
        }
    };
}

/// A count from SQL the test writes (checks across many rows, such as "every
/// order has exactly one 履歴 row for the change"). Test code only.
pub async fn count(store: &Store, sql: &str) -> i64 {
    let row = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(&store.pool)
        .await
        .expect("count query");
    crate::db::get_i64(&row, "n").expect("column n")
}

/// Runs SQL the test writes, such as moving a job's finish into the past to
/// test the retention period. Test code only.
pub async fn execute(store: &Store, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&store.pool)
        .await
        .expect("test SQL");
}
