//! 配送状況の確認: the carrier's tracking applied to 発送済 orders. A delivered
//! parcel sets 配送完了日 through the order pipeline (so 配送完了 rules fire); a
//! parcel taken back (持戻り) is noted once; a number the carrier does not know
//! flags the order 要対応. Asked with no transaction open; every order is asked
//! at most once per [`RECHECK_SECONDS`].

use crate::StoreError;
use crate::db::{Store, get_i64, get_opt_str, get_str};
use crate::deliveries::{CarrierTracker, RECHECK_SECONDS, TrackRequest, TrackRun};
use crate::history::Actor;
use crate::orders::ChangeTarget;
use juchu_domain::patch::OrderPatch;
use juchu_domain::shipment_change::{ShipmentPatch, ShipmentsPatch};
use juchu_domain::tracking::{KnownCarrier, ParcelStatus};

/// The 要対応理由 of a number the carrier does not know.
pub const UNKNOWN_NUMBER: &str = "配送業者に伝票番号が見つかりません";

impl Store {
    /// Asks `tracker` about up to `limit` 発送済, undelivered orders with a
    /// tracking number whose last look is older than [`RECHECK_SECONDS`].
    pub async fn track_deliveries(
        &self,
        tracker: &dyn CarrierTracker,
        limit: usize,
    ) -> Result<TrackRun, StoreError> {
        let mut run = TrackRun::default();
        let rows = sqlx::query(
            "SELECT o.id, o.order_number, o.tracking_number, o.shipped_at, o.shipments, o.needs_attention_reason, c.code AS carrier_code \
             FROM orders o JOIN carriers c ON c.id = o.carrier_id \
             LEFT JOIN delivery_checks d ON d.order_id = o.id \
             WHERE c.code IN ('yamato', 'sagawa', 'japanpost') \
             AND o.shipment_status = 'shipped' AND o.delivered_at IS NULL \
             AND o.tracking_number IS NOT NULL AND o.tracking_number <> '' \
             AND (d.checked_at IS NULL OR d.checked_at <= $1) \
             ORDER BY o.id LIMIT $2",
        )
        .bind(self.clock.in_seconds(-RECHECK_SECONDS))
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        let actor = Actor::System {
            name: tracker.name().to_string(),
        };
        let masters = self.masters().await?;
        for row in &rows {
            let id = get_i64(row, "id")?;
            let number = get_str(row, "order_number")?;
            let Some(carrier) = KnownCarrier::for_code(&get_str(row, "carrier_code")?) else {
                continue;
            };
            // A split or multi-parcel order: every package's first number is
            // asked about, and a delivered package gets its own 配送完了日 (the
            // order's follows when all are delivered).
            let packages: Vec<juchu_domain::shipment::Shipment> = get_opt_str(row, "shipments")?
                .and_then(|j| serde_json::from_str(&j).ok())
                .unwrap_or_default();
            // Each package is asked of its own carrier (else the order's).
            type Ask = (Option<u32>, KnownCarrier, String, Option<jiff::civil::Date>);
            let asks: Vec<Ask> = if packages.is_empty() {
                vec![(
                    None,
                    carrier,
                    get_str(row, "tracking_number")?,
                    get_opt_str(row, "shipped_at")?.and_then(|d| d.parse().ok()),
                )]
            } else {
                packages
                    .iter()
                    .filter(|p| p.delivered_at.is_none())
                    .filter_map(|p| {
                        let own = p
                            .carrier_id
                            .and_then(|id| masters.carrier(id))
                            .and_then(|c| KnownCarrier::for_code(&c.code))
                            .unwrap_or(carrier);
                        p.tracking_numbers
                            .first()
                            .map(|t| (Some(p.number), own, t.clone(), p.shipped_at))
                    })
                    .collect()
            };
            if asks.is_empty() {
                // Nothing to ask (no package has a number): looked at, so the
                // order does not stand first in line on every round.
                sqlx::query(
                    "INSERT INTO delivery_checks (order_id, checked_at, status, checks) VALUES ($1, $2, 'no_number', 1) \
                     ON CONFLICT (order_id) DO UPDATE SET checked_at = excluded.checked_at, status = excluded.status, checks = delivery_checks.checks + 1",
                )
                .bind(id)
                .bind(self.clock.now_text())
                .execute(&self.pool)
                .await?;
                continue;
            }
            let mut answers = Vec::with_capacity(asks.len());
            let mut failed = false;
            for (package, own_carrier, tracking_number, shipped_at) in asks {
                let req = TrackRequest {
                    carrier: Some(own_carrier),
                    tracking_number,
                    shipped_at,
                };
                match tracker.track(&req).await {
                    Ok(s) => answers.push((package, s)),
                    Err(e) => {
                        tracing::warn!(order = %number, error = %e, "carrier tracking unavailable");
                        failed = true;
                        break;
                    }
                }
            }
            if failed || answers.is_empty() {
                run.unavailable += 1;
                continue;
            }
            let delivered: Vec<(u32, jiff::civil::Date)> = answers
                .iter()
                .filter_map(|(p, s)| match (p, s) {
                    (Some(p), ParcelStatus::Delivered(on)) => Some((*p, *on)),
                    _ => None,
                })
                .collect();
            // The order's status: the first package not delivered, else delivered.
            let status = answers
                .iter()
                .map(|(_, s)| *s)
                .find(|s| !matches!(s, ParcelStatus::Delivered(_)))
                .unwrap_or(answers[0].1);
            let mut tx = self.begin().await?;
            let previous = sqlx::query("SELECT status FROM delivery_checks WHERE order_id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| get_str(&r, "status"))
                .transpose()?;
            let reason_now = get_str(row, "needs_attention_reason")?;
            let (code, patch, reason) = match status {
                ParcelStatus::Delivered(on) => {
                    run.delivered += 1;
                    (
                        "delivered",
                        Some(OrderPatch {
                            delivered_at: Some(Some(on.to_string()))
                                .filter(|_| packages.is_empty()),
                            shipments: package_deliveries(&delivered),
                            ..Default::default()
                        }),
                        format!("{}の配送状況: 配達完了", carrier.label()),
                    )
                }
                ParcelStatus::InTransit => {
                    run.in_transit += 1;
                    (
                        "in_transit",
                        partial(&delivered),
                        reason_partial(&delivered, carrier),
                    )
                }
                ParcelStatus::Absent => {
                    run.absent += 1;
                    (
                        "absent",
                        partial(&delivered),
                        reason_partial(&delivered, carrier),
                    )
                }
                ParcelStatus::Unknown => {
                    run.unknown += 1;
                    (
                        "unknown",
                        // Flagged once, when the carrier first says so.
                        (previous.as_deref() != Some("unknown")).then(|| OrderPatch {
                            needs_attention: Some(true),
                            // Added to a reason already there, never over it.
                            needs_attention_reason: Some(match reason_now.trim() {
                                "" => UNKNOWN_NUMBER.to_string(),
                                r if r.contains(UNKNOWN_NUMBER) => r.to_string(),
                                r => format!("{r}／{UNKNOWN_NUMBER}"),
                            }),
                            ..Default::default()
                        }),
                        format!("{}の配送状況: 伝票番号が見つかりません", carrier.label()),
                    )
                }
            };
            if let Some(patch) = patch {
                // One order the pipeline refuses (a rule's refusal) is noted and
                // checked again later; it never stops the round.
                let target = ChangeTarget::new(&number, &patch);
                if let Err(e) = self.change_in_tx(&mut tx, target, &actor, &reason).await {
                    tx.rollback().await?;
                    match e {
                        StoreError::Invalid(e) => {
                            tracing::warn!(order = %number, error = %e, "delivery not applied");
                            run.unavailable += 1;
                            let mut tx = self.begin().await?;
                            sqlx::query(
                                "INSERT INTO delivery_checks (order_id, checked_at, status, checks) VALUES ($1, $2, 'refused', 1) \
                                 ON CONFLICT (order_id) DO UPDATE SET checked_at = excluded.checked_at, status = excluded.status, checks = delivery_checks.checks + 1",
                            )
                            .bind(id)
                            .bind(self.clock.now_text())
                            .execute(&mut *tx)
                            .await?;
                            tx.commit().await?;
                            continue;
                        }
                        e => return Err(e),
                    }
                }
            }
            if status == ParcelStatus::Absent && previous.as_deref() != Some("absent") {
                let row = crate::history::HistoryRow::by(
                    &actor,
                    id,
                    "shipment_status",
                    "",
                    format!("{}の配送状況: 持戻り（再配達待ち）", carrier.label()),
                    "",
                );
                crate::db::write_rows(
                    &mut tx,
                    self.backend,
                    vec![crate::history::order_history_rows(
                        &[row],
                        &self.clock.now_text(),
                    )],
                )
                .await?;
            }
            sqlx::query(
                "INSERT INTO delivery_checks (order_id, checked_at, status, checks) VALUES ($1, $2, $3, 1) \
                 ON CONFLICT (order_id) DO UPDATE SET checked_at = excluded.checked_at, status = excluded.status, checks = delivery_checks.checks + 1",
            )
            .bind(id)
            .bind(self.clock.now_text())
            .bind(code)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        }
        Ok(run)
    }
}

/// Packages the carrier reports delivered, as a patch of each one's 配送完了日.
fn package_deliveries(delivered: &[(u32, jiff::civil::Date)]) -> ShipmentsPatch {
    ShipmentsPatch {
        shipments: delivered
            .iter()
            .map(|(number, on)| ShipmentPatch {
                number: *number,
                delivered_at: Some(Some(on.to_string())),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// Some packages of a split order delivered while another is still on its way.
fn partial(delivered: &[(u32, jiff::civil::Date)]) -> Option<OrderPatch> {
    (!delivered.is_empty()).then(|| OrderPatch {
        shipments: package_deliveries(delivered),
        ..Default::default()
    })
}

fn reason_partial(delivered: &[(u32, jiff::civil::Date)], carrier: KnownCarrier) -> String {
    if delivered.is_empty() {
        String::new()
    } else {
        format!("{}の配送状況: 一部の出荷が配達完了", carrier.label())
    }
}
