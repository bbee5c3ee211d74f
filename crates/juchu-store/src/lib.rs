//! Storage for juchu on SQLite (embedded default) and PostgreSQL (production).
//!
//! One set of runtime SQL runs on both stores through `sqlx::Any` with `$n`
//! placeholders; the few dialect-specific pieces (transaction start, row locks, id
//! allocation) are named functions on [`Backend`]. Compile-time checked queries
//! cannot check one query against two databases, so the whole store suite runs on
//! both stores instead.
//!
//! # Floors
//! A module imports only from its own floor or the floors below; nothing imports
//! upward, and no two modules import each other (`../shared/tools/import-circles`
//! checks). One business area is one folder.
//!
//! 0. `error`, `db/` — the store, transactions, binding, multi-row writes, the
//!    clock, tokens, the revision cache. Names no area.
//! 1. `history` (履歴 rows and the [`Actor`]), `settings` (key/value shop
//!    settings), `shipping` (出荷設定 and saved import formats).
//! 2. Reference data and outboxes, each on its own: `staff`, `formats`,
//!    `saved_searches`, `stock` (在庫, derived from the orders table),
//!    `masters/`, `customers/`, `mail/` (templates and the mail outbox), `line`
//!    (the LINE push outbox and the push interface), `webhooks/` (the event
//!    outbox, the pull feed, endpoints and delivery), `operations` (worker
//!    heartbeats, queue depths, the SQLite backup),
//!    `automation/` (rules), `blacklist/` (conditions and screening).
//! 3. `snapshot` — masters, rules and blacklist cached by revision; `schema` —
//!    migrations and seeds.
//! 4. `orders/` — the order aggregate and its pipeline; above it, reading
//!    orders but never changing them: `subscriptions/` (the subscription
//!    aggregate and its pipeline) and `payments/` (the payment-request outbox
//!    and the gateway interface), `deliveries/` (the carrier-tracker
//!    interface), `documents` (帳票 of one order, and what PDF一括出力 shares),
//!    `dashboard` (ホーム's counts); `mypage` (customer accounts and what a
//!    customer may read), `messages` (管理者用スペース on orders), `requests/`
//!    (申請: forms, intake, intents, signed links, automation rules, analytics).
//! 5. `effects/` — the only code that crosses aggregates, and so where every
//!    change that can set something off enters.
//! 6. `jobs/` — the job queue and its kinds; `testing`, `bench_support`.

pub mod automation;
pub mod bench_support;
pub mod blacklist;
pub mod customers;
pub mod dashboard;
pub mod db;
pub mod deliveries;
pub mod documents;
mod effects;
pub mod error;
pub mod formats;
mod history;
pub mod jobs;
pub mod line;
pub mod mail;
pub mod masters;
pub mod messages;
pub mod mypage;
pub mod operations;
pub mod orders;
pub mod payments;
pub mod requests;
pub mod saved_searches;
mod schema;
pub mod settings;
pub mod shipping;
mod snapshot;
pub mod staff;
pub mod stock;
pub mod subscriptions;
pub mod testing;
pub mod webhooks;

pub use db::{Arg, Backend, Store, StoreConfig, create_pg_database, drop_pg_database_blocking};
pub use effects::order_mail::WrittenMail;
pub use effects::payment_import::read_payment_file;
pub use effects::requests::{AutomationReport, DryRunLine, RequestCommand};
pub use effects::shipment_import::{ImportRowResult, read_shipment_file};
pub use error::StoreError;
pub use history::{Actor, HistoryEntry};
pub use orders::{OrderPage, OrderQuery};
pub use settings::SubscriptionSettings;
