//! The store's error at its boundary, so callers never import sqlx.

use juchu_domain::FieldErrors;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The thing asked for does not exist (HTTP 404).
    #[error("{0}が見つかりません")]
    NotFound(&'static str),
    /// The edit was based on a stale version, or a unique value is taken (HTTP 409).
    #[error("{message}")]
    Conflict {
        field: Option<String>,
        message: String,
    },
    /// It existed but was deleted on purpose, e.g. a job's result after the
    /// retention period (HTTP 410).
    #[error("{0}")]
    Gone(String),
    /// Input failed validation (HTTP 422); nothing was written.
    #[error("{0}")]
    Invalid(FieldErrors),
    /// Anything else (HTTP 500). Logged, never shown to users in detail.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{0}")]
    Other(String),
}

impl From<FieldErrors> for StoreError {
    fn from(e: FieldErrors) -> Self {
        StoreError::Invalid(e)
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Other(format!("migration failed: {e}"))
    }
}

impl StoreError {
    /// Turns a unique-constraint violation that surfaced as a database error into a
    /// field-level conflict; other errors pass through.
    pub(crate) fn unique_to_conflict(self, field: &str, message: &str) -> Self {
        match self {
            StoreError::Database(e) => {
                StoreError::unique_as_conflict(e, field, message.to_string())
            }
            other => other,
        }
    }

    /// Turns a unique-constraint violation into a field-level conflict.
    pub(crate) fn unique_as_conflict(e: sqlx::Error, field: &str, message: String) -> Self {
        if let sqlx::Error::Database(db) = &e
            && db.is_unique_violation()
        {
            return StoreError::Conflict {
                field: Some(field.to_string()),
                message,
            };
        }
        StoreError::Database(e)
    }
}
