//! The schema (one migration folder per dialect, embedded) and the defaults a
//! new store is seeded with once.

use crate::StoreError;
use crate::db::{Backend, Store};
use juchu_domain::masters::{
    DEFAULT_CARRIERS, DEFAULT_HANDLING_STATUS, DEFAULT_HANDLING_STATUSES, DEFAULT_PAYMENT_METHODS,
};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Store {
    /// Runs the migrations for this backend and seeds the default masters once.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        seed_defaults(self).await
    }

    /// Applies the migrations up to `version` only, without seeding: the
    /// schema an older juchu ran on, for the rolling-upgrade test (an old
    /// version's processes at work while the next migration applies).
    pub async fn migrate_to(&self, version: i64) -> Result<(), StoreError> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run_to(version, &self.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run_to(version, &self.pool).await?,
        }
        Ok(())
    }

    /// The versions of this backend's migrations, oldest first.
    pub fn migration_versions(&self) -> Vec<i64> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.iter().map(|m| m.version).collect()
    }
}

async fn seed_defaults(store: &Store) -> Result<(), StoreError> {
    let mut tx = store.begin().await?;
    if store.backend == crate::db::Backend::Postgres {
        // Several processes may start at once on one database: one seeds, the
        // others wait here and then see 'seeded'. (SQLite: BEGIN IMMEDIATE.)
        sqlx::query("SELECT pg_advisory_xact_lock(7401552)")
            .execute(&mut *tx)
            .await?;
    }
    let row = sqlx::query("SELECT value FROM settings WHERE key = 'seeded'")
        .fetch_optional(&mut *tx)
        .await?;
    if row.is_none() {
        seed_masters(&mut tx).await?;
    }
    seed_subscription_defaults(&mut tx).await?;
    seed_csv_formats(&mut tx, &store.clock.now_text()).await?;
    crate::mail::seed_templates(&mut tx).await?;
    seed_request_form(&mut tx, &store.clock.now_text()).await?;
    tx.commit().await?;
    Ok(())
}

/// The ready-made CSV formats (受注一覧, 出荷リスト, 受注明細), once, for a
/// shop that has none: a shop's own formats are never touched.
async fn seed_csv_formats(tx: &mut crate::db::Tx, now: &str) -> Result<(), StoreError> {
    let done = sqlx::query("SELECT value FROM settings WHERE key = 'seeded_csv_formats'")
        .fetch_optional(&mut **tx)
        .await?;
    if done.is_some() {
        return Ok(());
    }
    let have = sqlx::query("SELECT id FROM csv_formats LIMIT 1")
        .fetch_optional(&mut **tx)
        .await?;
    if have.is_none() {
        for f in juchu_domain::csv_format::ready_made() {
            let json = serde_json::to_string(&f).map_err(|e| StoreError::Other(e.to_string()))?;
            sqlx::query("INSERT INTO csv_formats (name, definition_json, created_at, updated_at) VALUES ($1, $2, $3, $4)")
                .bind(f.name.clone())
                .bind(json)
                .bind(now.to_string())
                .bind(now.to_string())
                .execute(&mut **tx)
                .await?;
        }
    }
    sqlx::query("INSERT INTO settings (key, value) VALUES ('seeded_csv_formats', '1')")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The seed's sample 申請フォーム, once, for a shop that has no form.
async fn seed_request_form(tx: &mut crate::db::Tx, now: &str) -> Result<(), StoreError> {
    let done = sqlx::query("SELECT value FROM settings WHERE key = 'seeded_request_form'")
        .fetch_optional(&mut **tx)
        .await?;
    if done.is_some() {
        return Ok(());
    }
    let have = sqlx::query("SELECT id FROM request_forms LIMIT 1")
        .fetch_optional(&mut **tx)
        .await?;
    if have.is_none() {
        let f = juchu_domain::request::default_form();
        let offers: Vec<&str> = f.offers.iter().map(|o| o.code()).collect();
        let questions =
            serde_json::to_string(&f.questions).map_err(|e| StoreError::Other(e.to_string()))?;
        let offers =
            serde_json::to_string(&offers).map_err(|e| StoreError::Other(e.to_string()))?;
        sqlx::query("INSERT INTO request_forms (name, questions, offers, discount_text, retention_tag, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)")
            .bind(f.name.clone())
            .bind(questions)
            .bind(offers)
            .bind(f.discount_text.clone())
            .bind(f.retention_tag.clone())
            .bind(now.to_string())
            .execute(&mut **tx)
            .await?;
    }
    sqlx::query("INSERT INTO settings (key, value) VALUES ('seeded_request_form', '1')")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Reason masters and settings of subscriptions (schema 0002), once.
async fn seed_subscription_defaults(tx: &mut crate::db::Tx) -> Result<(), StoreError> {
    let done = sqlx::query("SELECT value FROM settings WHERE key = 'seeded_subscriptions'")
        .fetch_optional(&mut **tx)
        .await?;
    if done.is_some() {
        return Ok(());
    }
    for (kind, names) in [
        ("stop", crate::masters::DEFAULT_STOP_REASONS),
        ("cancel", crate::masters::DEFAULT_CANCEL_REASONS),
    ] {
        for (i, name) in names.iter().enumerate() {
            sqlx::query(
                "INSERT INTO subscription_reasons (kind, name, position) VALUES ($1, $2, $3)",
            )
            .bind(kind)
            .bind(*name)
            .bind(i as i64 + 1)
            .execute(&mut **tx)
            .await?;
        }
    }
    sqlx::query(
        "INSERT INTO settings (key, value) VALUES ('seeded_subscriptions', '1'), ('shipping.lead_days', '2'), ('subscription.days_before', '5'), ('subscription.basis', 'delivery'), ('subscription.default_cycle_months', '1'), ('subscription.flagged_creates', 'true')",
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn seed_masters(tx: &mut crate::db::Tx) -> Result<(), StoreError> {
    for (i, (name, color)) in DEFAULT_HANDLING_STATUSES.iter().enumerate() {
        sqlx::query("INSERT INTO handling_statuses (name, position, color, is_default) VALUES ($1, $2, $3, $4)")
            .bind(*name)
            .bind(i as i64 + 1)
            .bind(*color)
            .bind((*name == DEFAULT_HANDLING_STATUS) as i64)
            .execute(&mut **tx)
            .await?;
    }
    for (i, (code, name, fee)) in DEFAULT_PAYMENT_METHODS.iter().enumerate() {
        sqlx::query(
            "INSERT INTO payment_methods (code, name, fee, position) VALUES ($1, $2, $3, $4)",
        )
        .bind(*code)
        .bind(*name)
        .bind(*fee)
        .bind(i as i64 + 1)
        .execute(&mut **tx)
        .await?;
    }
    for (i, (code, name, url, fee)) in DEFAULT_CARRIERS.iter().enumerate() {
        sqlx::query(
            "INSERT INTO carriers (code, name, tracking_url_template, shipping_fee, position) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(*code)
        .bind(*name)
        .bind(*url)
        .bind(*fee)
        .bind(i as i64 + 1)
        .execute(&mut **tx)
        .await?;
    }
    sqlx::query(
        "INSERT INTO settings (key, value) VALUES ('seeded', '1'), ('tax_rounding', 'floor'), ('masters_revision', '1')",
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}
