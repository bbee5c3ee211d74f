//! The shop's formats: CSV管理 (CSV formats) and 帳票管理 (document formats),
//! each stored as its JSON definition in a table of its own.

use crate::StoreError;
use crate::db::{Store, get_i64, get_str};
use juchu_domain::FieldErrors;
use juchu_domain::csv_format::CsvFormat;
use juchu_domain::document::DocumentFormat;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A format kept as JSON in `TABLE`.
trait StoredFormat: Serialize + DeserializeOwned + Sized {
    const TABLE: &'static str;
    /// What it is called in messages (「CSVフォーマット」).
    const WHAT: &'static str;
    fn id(&self) -> i64;
    fn set_id(&mut self, id: i64);
    fn name(&self) -> &str;
    /// Checked and trimmed, ready to store.
    fn normalised(&self) -> Result<Self, FieldErrors>;
}

impl StoredFormat for CsvFormat {
    const TABLE: &'static str = "csv_formats";
    const WHAT: &'static str = "CSVフォーマット";
    fn id(&self) -> i64 {
        self.id
    }
    fn set_id(&mut self, id: i64) {
        self.id = id;
    }
    fn name(&self) -> &str {
        &self.name
    }
    /// Unknown columns are refused with their position.
    fn normalised(&self) -> Result<Self, FieldErrors> {
        self.validate()?;
        let mut f = self.clone();
        f.name = f.name.trim().to_string();
        for c in &mut f.columns {
            c.key = c.key.trim().to_string();
            c.header = c.header.trim().to_string();
        }
        Ok(f)
    }
}

impl StoredFormat for DocumentFormat {
    const TABLE: &'static str = "document_formats";
    const WHAT: &'static str = "帳票フォーマット";
    fn id(&self) -> i64 {
        self.id
    }
    fn set_id(&mut self, id: i64) {
        self.id = id;
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn normalised(&self) -> Result<Self, FieldErrors> {
        self.validate()?;
        let mut f = self.clone();
        f.name = f.name.trim().to_string();
        f.title = f.title.trim().to_string();
        f.proviso = f.proviso.trim().to_string();
        f.message = f.message.trim().to_string();
        Ok(f)
    }
}

fn from_row<F: StoredFormat>(r: &sqlx::any::AnyRow) -> Result<F, StoreError> {
    let id = get_i64(r, "id")?;
    let mut f: F = serde_json::from_str(&get_str(r, "definition_json")?)
        .map_err(|e| StoreError::Other(format!("{} {id} is unreadable: {e}", F::TABLE)))?;
    f.set_id(id);
    Ok(f)
}

fn json_of<F: StoredFormat>(f: &F) -> Result<String, StoreError> {
    serde_json::to_string(f).map_err(|e| StoreError::Other(format!("{}: {e}", F::TABLE)))
}

impl Store {
    async fn formats<F: StoredFormat>(&self) -> Result<Vec<F>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id, definition_json FROM {} ORDER BY id",
            F::TABLE
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    async fn format<F: StoredFormat>(&self, id: i64) -> Result<F, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id, definition_json FROM {} WHERE id = $1",
            F::TABLE
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound(F::WHAT))?;
        from_row(&row)
    }

    async fn add_format<F: StoredFormat>(&self, f: &F) -> Result<F, StoreError> {
        let mut f = f.normalised()?;
        let now = self.clock.now_text();
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {} (name, definition_json, created_at, updated_at) VALUES ($1, $2, $3, $4) RETURNING id",
            F::TABLE
        )))
        .bind(f.name().to_string())
        .bind(json_of(&f)?)
        .bind(now.clone())
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        f.set_id(get_i64(&row, "id")?);
        Ok(f)
    }

    async fn update_format<F: StoredFormat>(&self, f: &F) -> Result<F, StoreError> {
        let f = f.normalised()?;
        let n = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE {} SET name = $1, definition_json = $2, updated_at = $3 WHERE id = $4",
            F::TABLE
        )))
        .bind(f.name().to_string())
        .bind(json_of(&f)?)
        .bind(self.clock.now_text())
        .bind(f.id())
        .execute(&self.pool)
        .await?
        .rows_affected();
        if n != 1 {
            return Err(StoreError::NotFound(F::WHAT));
        }
        Ok(f)
    }

    async fn delete_format<F: StoredFormat>(&self, id: i64) -> Result<(), StoreError> {
        let n = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {} WHERE id = $1",
            F::TABLE
        )))
        .bind(id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if n != 1 {
            return Err(StoreError::NotFound(F::WHAT));
        }
        Ok(())
    }

    pub async fn csv_formats(&self) -> Result<Vec<CsvFormat>, StoreError> {
        self.formats().await
    }
    pub async fn csv_format(&self, id: i64) -> Result<CsvFormat, StoreError> {
        self.format(id).await
    }
    /// Adds a format; unknown columns are refused with their position.
    pub async fn add_csv_format(&self, f: &CsvFormat) -> Result<CsvFormat, StoreError> {
        self.add_format(f).await
    }
    pub async fn update_csv_format(&self, f: &CsvFormat) -> Result<CsvFormat, StoreError> {
        self.update_format(f).await
    }
    pub async fn delete_csv_format(&self, id: i64) -> Result<(), StoreError> {
        self.delete_format::<CsvFormat>(id).await
    }

    pub async fn document_formats(&self) -> Result<Vec<DocumentFormat>, StoreError> {
        self.formats().await
    }
    pub async fn document_format(&self, id: i64) -> Result<DocumentFormat, StoreError> {
        self.format(id).await
    }
    /// Adds a format; what a qualified invoice must print cannot be left out.
    pub async fn add_document_format(
        &self,
        f: &DocumentFormat,
    ) -> Result<DocumentFormat, StoreError> {
        self.add_format(f).await
    }
    pub async fn update_document_format(
        &self,
        f: &DocumentFormat,
    ) -> Result<DocumentFormat, StoreError> {
        self.update_format(f).await
    }
    pub async fn delete_document_format(&self, id: i64) -> Result<(), StoreError> {
        self.delete_format::<DocumentFormat>(id).await
    }
}
