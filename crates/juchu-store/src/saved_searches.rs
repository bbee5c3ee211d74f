//! 受注一覧's saved searches: a name and the list's query string, shared by the
//! shop's staff (「出荷待ち」「要対応・決済NG」…).

use crate::StoreError;
use crate::db::{Store, get_i64, get_str};
use juchu_domain::FieldErrors;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedSearch {
    pub id: i64,
    pub name: String,
    /// The list's query string, without `page`.
    pub query: String,
    pub created_by: String,
}

impl Store {
    pub async fn saved_searches(&self) -> Result<Vec<SavedSearch>, StoreError> {
        let rows =
            sqlx::query("SELECT id, name, query, created_by FROM saved_searches ORDER BY name, id")
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
                Ok(SavedSearch {
                    id: get_i64(r, "id")?,
                    name: get_str(r, "name")?,
                    query: get_str(r, "query")?,
                    created_by: get_str(r, "created_by")?,
                })
            })
            .collect()
    }

    /// Saves (or replaces, by name) a search.
    pub async fn save_search(
        &self,
        name: &str,
        query: &str,
        by: &str,
    ) -> Result<SavedSearch, StoreError> {
        let name = name.trim();
        let mut e = FieldErrors::default();
        if name.is_empty() {
            e.add("name", "required", "保存する名前を入力してください");
        }
        juchu_domain::text::check_len(&mut e, "name", name, 50);
        juchu_domain::text::check_len(&mut e, "query", query, 2000);
        e.into_result()?;
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM saved_searches WHERE name = $1")
            .bind(name.to_string())
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query("INSERT INTO saved_searches (name, query, created_by, created_at) VALUES ($1, $2, $3, $4) RETURNING id")
            .bind(name.to_string())
            .bind(query.to_string())
            .bind(by.to_string())
            .bind(self.clock.now_text())
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(SavedSearch {
            id: get_i64(&row, "id")?,
            name: name.to_string(),
            query: query.to_string(),
            created_by: by.to_string(),
        })
    }

    pub async fn delete_saved_search(&self, id: i64) -> Result<(), StoreError> {
        let n = sqlx::query("DELETE FROM saved_searches WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound("保存した検索条件"));
        }
        Ok(())
    }
}
