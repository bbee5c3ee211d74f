//! Storage for juchu on SQLite (embedded default) and PostgreSQL (production).
//!
//! One set of runtime SQL runs on both stores through `sqlx::Any` with `$n`
//! placeholders; the few dialect-specific pieces (transaction start, row locks, id
//! allocation) are named functions on [`Backend`]. Compile-time checked queries
//! cannot check one query against two databases, so the whole store suite runs on
//! both stores instead.

pub mod automation;
pub mod bench_support;
pub mod blacklist;
mod bulk;
pub mod customers;
pub mod db;
pub mod error;
mod export;
mod export_projection;
pub mod formats;
pub mod jobs;
pub mod mail;
pub mod masters;
pub mod orders;
pub mod payment_gateway;
pub mod payments;
pub mod pipeline;
pub mod search;
pub mod staff;
pub mod subscriptions;
pub mod testing;

pub use db::{Arg, Backend, Store, StoreConfig, create_pg_database, drop_pg_database_blocking};
pub use error::StoreError;
pub use pipeline::Actor;
pub use search::{OrderPage, OrderQuery};
