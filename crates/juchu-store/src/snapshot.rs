//! What every change needs besides the order or subscription itself: masters,
//! enabled rules, rounding and the blacklist, cached per process by revision
//! (see `db::RevisionCache`), and the products a change names.

use crate::StoreError;
use crate::db::{Arg, Store, Tx, get_opt_i64, get_opt_str, get_str, query_with};
use crate::masters::{load_masters, load_rounding, product_from_row, products_by_codes};
use juchu_domain::automation::Rule;
use juchu_domain::masters::{Masters, Product};
use std::collections::HashMap;
use std::sync::Arc;

/// What every change needs besides the order: masters, enabled rules, settings.
/// Cached per process and keyed by the `masters_revision` setting, which every
/// master, rule or setting write replaces in its own transaction; the pipeline
/// reads that one row instead of six queries' worth of masters on each change.
pub(crate) struct Snapshot {
    pub masters: Masters,
    pub rules: Vec<Rule>,
    pub rounding: juchu_domain::status::RoundingMode,
    pub blacklist: crate::blacklist::BlacklistSnapshot,
}

async fn load_snapshot(tx: &mut Tx) -> Result<Snapshot, StoreError> {
    let masters = load_masters(tx).await?;
    let rules = crate::automation::load_rules(tx).await?;
    let rounding = load_rounding(tx).await?;
    let blacklist = crate::blacklist::load_snapshot(tx).await?;
    Ok(Snapshot {
        masters,
        rules,
        rounding,
        blacklist,
    })
}

/// Order ids allocated ahead, and which of their derived numbers are taken.
pub(crate) struct Allocated {
    pub ids: Vec<i64>,
    pub taken: std::collections::HashSet<String>,
    /// The blacklist candidates of the new orders, fetched in the same round
    /// trip when asked for.
    pub screening: Option<crate::blacklist::Candidates>,
}

impl Store {
    /// The masters, read through the same revision-keyed cache the pipeline
    /// uses: one small read of the revision instead of every master table.
    pub async fn masters(&self) -> Result<Masters, StoreError> {
        // Every list and page asks: when the cached revision is current, one
        // plain read of it is enough (a master write replaces the revision in
        // its own transaction, so a revision names exactly one set of masters).
        let revision =
            sqlx::query("SELECT value AS rev FROM settings WHERE key = 'masters_revision'")
                .fetch_optional(&self.pool)
                .await?
                .map(|r| get_str(&r, "rev"))
                .transpose()?;
        if let Some(snap) = revision.and_then(|r| self.snapshot.get::<Snapshot>(&r)) {
            return Ok(snap.masters.clone());
        }
        let mut tx = self.begin_read().await?;
        let snapshot = self.masters_in(&mut tx).await?;
        tx.commit().await?;
        Ok(snapshot.masters.clone())
    }

    /// The snapshot and the products `codes` name, in one round trip when there are
    /// few codes: the revision row joined with the products.
    pub(crate) async fn context(
        &self,
        tx: &mut Tx,
        codes: &[String],
    ) -> Result<(Arc<Snapshot>, HashMap<String, Product>), StoreError> {
        let (snapshot, products, _) = self.context_with_ids(tx, codes, 0, None).await?;
        Ok((snapshot, products))
    }

    /// [`Store::context`], and on PostgreSQL `new_ids` fresh order ids with the
    /// derived numbers imported orders already use, in the same round trip
    /// (single-order intake is round-trip bound: this is one of its three).
    /// With `screen`, the blacklist candidates of those keys come along too.
    pub(crate) async fn context_with_ids(
        &self,
        tx: &mut Tx,
        codes: &[String],
        new_ids: usize,
        screen: Option<&crate::blacklist::ScreenKeys>,
    ) -> Result<(Arc<Snapshot>, HashMap<String, Product>, Option<Allocated>), StoreError> {
        let postgres = self.backend == crate::db::Backend::Postgres;
        let new_ids = if postgres { new_ids } else { 0 };
        let screen = screen.filter(|_| postgres);
        let mut unique: Vec<&str> = codes.iter().map(|c| c.trim()).collect();
        unique.sort_unstable();
        unique.dedup();
        if unique.len() > 100 {
            let revision =
                sqlx::query("SELECT value AS rev FROM settings WHERE key = 'masters_revision'")
                    .fetch_optional(&mut **tx)
                    .await?
                    .map(|r| get_str(&r, "rev"))
                    .transpose()?;
            let snapshot = self.snapshot_at(tx, revision).await?;
            return Ok((snapshot, products_by_codes(tx, codes).await?, None));
        }
        let placeholders: Vec<String> = (1..=unique.len()).map(|i| format!("${i}")).collect();
        let join = if unique.is_empty() {
            "1 = 0".to_string()
        } else {
            format!("p.code IN ({})", placeholders.join(", "))
        };
        // An uncorrelated scalar subquery runs once (an InitPlan), however many
        // product rows there are: "12,13!,14" where ! marks a taken number.
        let ids_column = if new_ids > 0 {
            format!(
                ", (SELECT string_agg(CAST(x.id AS TEXT) || CASE WHEN EXISTS (SELECT 1 FROM orders o WHERE o.order_number = CAST(x.id AS TEXT)) THEN '!' ELSE '' END, ',' ORDER BY x.id) \
                 FROM (SELECT nextval(pg_get_serial_sequence('orders', 'id')) AS id FROM generate_series(1, {new_ids})) x) AS new_ids"
            )
        } else {
            String::new()
        };
        let mut args: Vec<Arg> = unique.iter().map(|c| Arg::from(*c)).collect();
        let screen_column = match screen {
            Some(keys) => {
                let (sub, more) = crate::blacklist::candidates_subquery(keys, args.len() + 1);
                args.extend(more);
                format!(", {sub} AS blacklist_candidates")
            }
            None => String::new(),
        };
        let sql = format!(
            "SELECT s.value AS rev, p.id, p.code, p.name, p.unit_price, p.tax_rate, p.shipping_fee, p.payment_fee, p.is_bundled_item, p.is_subscription{ids_column}{screen_column} \
             FROM settings s LEFT JOIN products p ON {join} WHERE s.key = 'masters_revision'"
        );
        let rows = query_with(sql, args).fetch_all(&mut **tx).await?;
        let allocated = match rows.first() {
            Some(r) if new_ids > 0 => {
                let text = get_opt_str(r, "new_ids")?.unwrap_or_default();
                let mut ids = Vec::with_capacity(new_ids);
                let mut taken = std::collections::HashSet::new();
                for part in text.split(',').filter(|p| !p.is_empty()) {
                    let (num, is_taken) = match part.strip_suffix('!') {
                        Some(n) => (n, true),
                        None => (part, false),
                    };
                    let id: i64 = num
                        .parse()
                        .map_err(|_| StoreError::Other(format!("bad allocated id {part:?}")))?;
                    if is_taken {
                        taken.insert(num.to_string());
                    }
                    ids.push(id);
                }
                let screening = match screen {
                    Some(keys) => Some(crate::blacklist::candidates_from_json(
                        keys,
                        get_opt_str(r, "blacklist_candidates")?.as_deref(),
                    )?),
                    None => None,
                };
                Some(Allocated {
                    ids,
                    taken,
                    screening,
                })
            }
            _ => None,
        };
        let revision = rows
            .first()
            .map(|r| get_opt_str(r, "rev"))
            .transpose()?
            .flatten();
        let mut products = HashMap::new();
        for r in &rows {
            if get_opt_i64(r, "id")?.is_some() {
                let p = product_from_row(r)?;
                products.insert(p.code.clone(), p);
            }
        }
        if rows.is_empty() {
            // No revision row (a store seeded before revisions existed): no cache.
            return Ok((
                Arc::new(load_snapshot(tx).await?),
                products_by_codes(tx, codes).await?,
                None,
            ));
        }
        Ok((self.snapshot_at(tx, revision).await?, products, allocated))
    }

    async fn snapshot_at(
        &self,
        tx: &mut Tx,
        revision: Option<String>,
    ) -> Result<Arc<Snapshot>, StoreError> {
        let Some(revision) = revision else {
            return Ok(Arc::new(load_snapshot(tx).await?));
        };
        if let Some(snap) = self.snapshot.get::<Snapshot>(&revision) {
            return Ok(snap);
        }
        let snap = Arc::new(load_snapshot(tx).await?);
        self.snapshot.put(revision, snap.clone());
        Ok(snap)
    }

    /// The masters inside a transaction (from the snapshot cache when current).
    pub(crate) async fn masters_in(&self, tx: &mut Tx) -> Result<Arc<Snapshot>, StoreError> {
        let (snapshot, _) = self.context(tx, &[]).await?;
        Ok(snapshot)
    }
}
