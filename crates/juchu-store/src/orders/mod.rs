//! Orders: the rows ([`Order`] ↔ `orders`, `order_items`, `order_label_links`),
//! search, and the order pipeline — creating (`create`) and changing
//! (`change`) orders, the points of a cancelled order, and a rule's dry run.
//! Writing happens only through the pipeline, entered from the effects module.

mod change;
mod create;
mod points;
pub use points::PointsSettings;
mod rule_dry_run;
pub mod search;

pub(crate) use change::{ChangeTarget, Changed};
pub(crate) use create::{BuiltOrders, PreparedOrders, prefix_errors};
pub use create::{Created, IdempotencyKey, NewOrderRequest};
pub use search::{MAX_PER_PAGE, OrderPage, OrderQuery};

use crate::StoreError;
use crate::db::Rows;
use crate::db::{Arg, Store, get_bool, get_i64, get_opt_i64, get_opt_str, get_str, query_with};
pub use crate::history::HistoryEntry;
use jiff::civil::Date;
use juchu_domain::customer::Address;
use juchu_domain::normalize::{email_key, name_key, phone_key, tracking_key};
use juchu_domain::order::{Order, OrderItem};
use juchu_domain::pricing::Totals;
use juchu_domain::status::{PaymentStatus, ShipmentStatus, ShippingListState, TaxRate};
use sqlx::any::AnyRow;
use std::collections::HashMap;

/// Every column written from an [`Order`], in bind order (after `id`).
pub(crate) const WRITE_COLUMNS: &[&str] = &[
    "order_number",
    "customer_id",
    "ordered_at",
    "billing_family_name",
    "billing_given_name",
    "billing_family_kana",
    "billing_given_kana",
    "billing_postal_code",
    "billing_prefecture",
    "billing_address1",
    "billing_address2",
    "billing_phone",
    "billing_email",
    "billing_company_name",
    "billing_department",
    "shipping_family_name",
    "shipping_given_name",
    "shipping_family_kana",
    "shipping_given_kana",
    "shipping_postal_code",
    "shipping_prefecture",
    "shipping_address1",
    "shipping_address2",
    "shipping_phone",
    "shipping_email",
    "shipping_company_name",
    "shipping_department",
    "items_standard",
    "items_reduced",
    "shipping_fee",
    "payment_fee",
    "discount",
    "taxable_standard",
    "taxable_reduced",
    "tax_standard",
    "tax_reduced",
    "points_used",
    "points_granted",
    "total",
    "payment_method_id",
    "carrier_id",
    "handling_status_id",
    "payment_status",
    "shipping_list_state",
    "shipping_list_exported_on",
    "shipment_status",
    "tracking_number",
    "tracking_key",
    "scheduled_ship_date",
    "scheduled_delivery_date",
    "shipped_at",
    "delivered_at",
    "paid_at",
    "delivery_time_slot",
    "memo",
    "needs_attention",
    "needs_attention_reason",
    "subscription_id",
    "subscription_delivery_date",
    "billing_name_key",
    "billing_kana_key",
    "billing_phone_key",
    "billing_email_key",
    "shipments",
    "version",
    "updated_at",
];

fn date_arg(d: Option<Date>) -> Arg {
    Arg::Text(d.map(|d| d.to_string()))
}

fn address_args(a: &Address, out: &mut Vec<Arg>) {
    for v in [
        &a.family_name,
        &a.given_name,
        &a.family_kana,
        &a.given_kana,
        &a.postal_code,
        &a.prefecture,
        &a.address1,
        &a.address2,
        &a.phone,
        &a.email,
        &a.company_name,
        &a.department,
    ] {
        out.push(v.trim().into());
    }
}

/// Bind values for [`WRITE_COLUMNS`].
pub(crate) fn write_args(o: &Order, updated_at: &str) -> Vec<Arg> {
    let mut a: Vec<Arg> = Vec::with_capacity(WRITE_COLUMNS.len() + 1);
    a.push(o.order_number.clone().into());
    a.push(o.customer_id.into());
    a.push(juchu_domain::time::format_ts(o.ordered_at).into());
    address_args(&o.billing, &mut a);
    address_args(&o.shipping, &mut a);
    let t = &o.totals;
    for v in [
        t.items_standard,
        t.items_reduced,
        t.shipping_fee,
        t.payment_fee,
        t.discount,
        t.taxable_standard,
        t.taxable_reduced,
        t.tax_standard,
        t.tax_reduced,
        t.points_used,
        o.points_granted,
        t.total,
    ] {
        a.push(v.into());
    }
    a.push(o.payment_method_id.into());
    a.push(o.carrier_id.into());
    a.push(o.handling_status_id.into());
    a.push(o.payment_status.code().into());
    a.push(o.shipping_list_state.code().into());
    a.push(date_arg(o.shipping_list_exported_on));
    a.push(o.shipment_status.code().into());
    a.push(o.tracking_number.clone().into());
    a.push(o.tracking_number.as_deref().map(tracking_key).into());
    a.push(date_arg(o.scheduled_ship_date));
    a.push(date_arg(o.scheduled_delivery_date));
    a.push(date_arg(o.shipped_at));
    a.push(date_arg(o.delivered_at));
    a.push(date_arg(o.paid_at));
    a.push(o.delivery_time_slot.clone().into());
    a.push(o.memo.clone().into());
    a.push(o.needs_attention.into());
    a.push(o.needs_attention_reason.clone().into());
    a.push(o.subscription_id.into());
    a.push(date_arg(o.subscription_delivery_date));
    a.push(
        name_key(&format!(
            "{}{}",
            o.billing.family_name, o.billing.given_name
        ))
        .into(),
    );
    a.push(
        name_key(&format!(
            "{}{}",
            o.billing.family_kana, o.billing.given_kana
        ))
        .into(),
    );
    a.push(phone_key(&o.billing.phone).into());
    a.push(email_key(&o.billing.email).into());
    a.push(Arg::Text(if o.shipments.is_empty() {
        None
    } else {
        serde_json::to_string(&o.shipments).ok()
    }));
    a.push(o.version.into());
    a.push(updated_at.into());
    debug_assert_eq!(a.len(), WRITE_COLUMNS.len());
    a
}

pub(crate) const ITEM_COLUMNS: &[&str] = &[
    "order_id",
    "position",
    "product_id",
    "product_code",
    "product_name",
    "unit_price",
    "quantity",
    "tax_rate",
    "is_bundled_item",
    "product_shipping_fee",
    "product_payment_fee",
];

pub(crate) fn item_args(order_id: i64, position: usize, i: &OrderItem, out: &mut Vec<Arg>) {
    out.push(order_id.into());
    out.push((position as i64).into());
    out.push(i.product_id.into());
    out.push(i.product_code.clone().into());
    out.push(i.product_name.clone().into());
    out.push(i.unit_price.into());
    out.push(i.quantity.into());
    out.push(i.tax_rate.percent().into());
    out.push(i.is_bundled_item.into());
    out.push(i.product_shipping_fee.into());
    out.push(i.product_payment_fee.into());
}

fn parse_date_col(r: &AnyRow, col: &str) -> Result<Option<Date>, sqlx::Error> {
    Ok(get_opt_str(r, col)?.and_then(|s| s.parse().ok()))
}

fn address_from_row(r: &AnyRow, prefix: &str) -> Result<Address, sqlx::Error> {
    let c = |n: &str| format!("{prefix}_{n}");
    Ok(Address {
        family_name: get_str(r, &c("family_name"))?,
        given_name: get_str(r, &c("given_name"))?,
        family_kana: get_str(r, &c("family_kana"))?,
        given_kana: get_str(r, &c("given_kana"))?,
        postal_code: get_str(r, &c("postal_code"))?,
        prefecture: get_str(r, &c("prefecture"))?,
        address1: get_str(r, &c("address1"))?,
        address2: get_str(r, &c("address2"))?,
        phone: get_str(r, &c("phone"))?,
        email: get_str(r, &c("email"))?,
        company_name: get_str(r, &c("company_name"))?,
        department: get_str(r, &c("department"))?,
    })
}

/// Maps an `orders` row (without items and labels).
pub(crate) fn order_from_row(r: &AnyRow) -> Result<Order, sqlx::Error> {
    let corrupt = |col: &str| sqlx::Error::ColumnDecode {
        index: col.into(),
        source: "unknown status code".into(),
    };
    Ok(Order {
        id: get_i64(r, "id")?,
        order_number: get_str(r, "order_number")?,
        customer_id: get_opt_i64(r, "customer_id")?,
        ordered_at: get_str(r, "ordered_at")?
            .parse()
            .map_err(|_| corrupt("ordered_at"))?,
        billing: address_from_row(r, "billing")?,
        shipping: address_from_row(r, "shipping")?,
        items: Vec::new(),
        totals: Totals {
            items_standard: get_i64(r, "items_standard")?,
            items_reduced: get_i64(r, "items_reduced")?,
            shipping_fee: get_i64(r, "shipping_fee")?,
            payment_fee: get_i64(r, "payment_fee")?,
            discount: get_i64(r, "discount")?,
            taxable_standard: get_i64(r, "taxable_standard")?,
            taxable_reduced: get_i64(r, "taxable_reduced")?,
            tax_standard: get_i64(r, "tax_standard")?,
            tax_reduced: get_i64(r, "tax_reduced")?,
            points_used: get_i64(r, "points_used")?,
            total: get_i64(r, "total")?,
        },
        points_granted: get_i64(r, "points_granted")?,
        payment_method_id: get_opt_i64(r, "payment_method_id")?,
        carrier_id: get_opt_i64(r, "carrier_id")?,
        handling_status_id: get_i64(r, "handling_status_id")?,
        payment_status: PaymentStatus::from_code(&get_str(r, "payment_status")?)
            .ok_or_else(|| corrupt("payment_status"))?,
        shipping_list_state: ShippingListState::from_code(&get_str(r, "shipping_list_state")?)
            .ok_or_else(|| corrupt("shipping_list_state"))?,
        shipping_list_exported_on: parse_date_col(r, "shipping_list_exported_on")?,
        shipment_status: ShipmentStatus::from_code(&get_str(r, "shipment_status")?)
            .ok_or_else(|| corrupt("shipment_status"))?,
        tracking_number: get_opt_str(r, "tracking_number")?,
        scheduled_ship_date: parse_date_col(r, "scheduled_ship_date")?,
        scheduled_delivery_date: parse_date_col(r, "scheduled_delivery_date")?,
        shipped_at: parse_date_col(r, "shipped_at")?,
        delivered_at: parse_date_col(r, "delivered_at")?,
        paid_at: parse_date_col(r, "paid_at")?,
        delivery_time_slot: get_opt_str(r, "delivery_time_slot")?,
        memo: get_str(r, "memo")?,
        label_ids: Vec::new(),
        needs_attention: get_bool(r, "needs_attention")?,
        needs_attention_reason: get_str(r, "needs_attention_reason")?,
        subscription_id: get_opt_i64(r, "subscription_id")?,
        subscription_delivery_date: parse_date_col(r, "subscription_delivery_date")?,
        shipments: match get_opt_str(r, "shipments")? {
            None => Vec::new(),
            Some(json) => serde_json::from_str(&json).map_err(|_| corrupt("shipments"))?,
        },
        version: get_i64(r, "version")?,
    })
}

fn item_from_row(r: &AnyRow) -> Result<OrderItem, sqlx::Error> {
    Ok(OrderItem {
        product_id: get_opt_i64(r, "product_id")?,
        product_code: get_str(r, "product_code")?,
        product_name: get_str(r, "product_name")?,
        unit_price: get_i64(r, "unit_price")?,
        quantity: get_i64(r, "quantity")?,
        tax_rate: TaxRate::from_percent(get_i64(r, "tax_rate")?).unwrap_or(TaxRate::Standard),
        is_bundled_item: get_bool(r, "is_bundled_item")?,
        product_shipping_fee: get_opt_i64(r, "product_shipping_fee")?,
        product_payment_fee: get_opt_i64(r, "product_payment_fee")?,
    })
}

/// Loads items and labels of the given orders (one query each).
pub(crate) async fn attach_children(
    exec: &mut sqlx::AnyConnection,
    orders: &mut [Order],
) -> Result<(), StoreError> {
    if orders.is_empty() {
        return Ok(());
    }
    let ids: Vec<Arg> = orders.iter().map(|o| Arg::from(o.id)).collect();
    let ph: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    attach_children_where(
        exec,
        orders,
        &format!("order_id IN ({})", ph.join(", ")),
        ids,
    )
    .await
}

/// [`attach_children`] with the orders named by a condition on `order_id`
/// (e.g. a subquery over a job's items) instead of a list of ids.
pub(crate) async fn attach_children_where(
    exec: &mut sqlx::AnyConnection,
    orders: &mut [Order],
    condition: &str,
    args: Vec<Arg>,
) -> Result<(), StoreError> {
    if orders.is_empty() {
        return Ok(());
    }
    let rows = query_with(
        format!(
            "SELECT order_id, {} FROM order_items WHERE {condition} ORDER BY order_id, position",
            ITEM_COLUMNS[2..].join(", ")
        ),
        args.clone(),
    )
    .fetch_all(&mut *exec)
    .await?;
    let by_id: HashMap<i64, usize> = orders.iter().enumerate().map(|(i, o)| (o.id, i)).collect();
    for r in &rows {
        if let Some(&i) = by_id.get(&get_i64(r, "order_id")?) {
            orders[i].items.push(item_from_row(r)?);
        }
    }
    let rows = query_with(
        format!("SELECT order_id, label_id FROM order_label_links WHERE {condition} ORDER BY order_id, label_id"),
        args,
    )
    .fetch_all(&mut *exec)
    .await?;
    for r in &rows {
        if let Some(&i) = by_id.get(&get_i64(r, "order_id")?) {
            orders[i].label_ids.push(get_i64(r, "label_id")?);
        }
    }
    Ok(())
}

/// A job's orders from `after_seq` on, at most `limit`, in the job's order:
/// (seq, item status, the order — `None` when it was deleted). The items are
/// read by their key range, then the orders by id: a join of a fresh job's
/// table (no statistics yet) with the orders could be planned as a scan of
/// every order.
pub(crate) async fn load_job_orders(
    exec: &mut sqlx::AnyConnection,
    job_id: i64,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<(i64, String, Option<Order>)>, StoreError> {
    let rows = sqlx::query(
        "SELECT seq, order_id, status FROM job_items WHERE job_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    )
    .bind(job_id)
    .bind(after_seq)
    .bind(limit)
    .fetch_all(&mut *exec)
    .await?;
    let items: Vec<(i64, i64, String)> = rows
        .iter()
        .map(|r| {
            Ok((
                get_i64(r, "seq")?,
                get_i64(r, "order_id")?,
                get_str(r, "status")?,
            ))
        })
        .collect::<Result<_, sqlx::Error>>()?;
    let ids: Vec<i64> = items.iter().map(|(_, id, _)| *id).collect();
    let mut by_id: HashMap<i64, Order> = load_orders_by_ids(exec, &ids)
        .await?
        .into_iter()
        .map(|o| (o.id, o))
        .collect();
    Ok(items
        .into_iter()
        .map(|(seq, id, status)| (seq, status, by_id.remove(&id)))
        .collect())
}

/// A job's orders as a carrier label needs them (the shipping address,
/// totals, payment method, carrier, shipping fields and packages, the items'
/// names and quantities) of the items `after_seq + 1 ..= after_seq + limit`
/// (a job's items are numbered 1, 2, … so batches can be read at once), in
/// the job's order: one statement joining the frozen items with the orders and one for
/// their items. Nothing else is read or decoded: every other field of the
/// returned [`Order`] is left empty, so it is only for writing labels.
pub(crate) async fn load_job_orders_for_labels(
    exec: &mut sqlx::AnyConnection,
    job_id: i64,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<(i64, String, Option<Order>)>, StoreError> {
    let address: Vec<String> = [
        "family_name",
        "given_name",
        "family_kana",
        "given_kana",
        "postal_code",
        "prefecture",
        "address1",
        "address2",
        "phone",
        "email",
        "company_name",
        "department",
    ]
    .iter()
    .map(|c| format!("o.shipping_{c}"))
    .collect();
    let sql = format!(
        "SELECT ji.seq, ji.status, o.id, o.order_number, {}, o.total, o.tax_standard, o.tax_reduced, \
         o.payment_method_id, o.carrier_id, o.shipment_status, o.tracking_number, o.scheduled_ship_date, \
         o.scheduled_delivery_date, o.delivery_time_slot, o.shipped_at, o.delivered_at, o.shipments \
         FROM job_items ji LEFT JOIN orders o ON o.id = ji.order_id \
         WHERE ji.job_id = $1 AND ji.seq > $2 AND ji.seq <= $3 ORDER BY ji.seq",
        address.join(", ")
    );
    let rows = query_with(
        sql,
        vec![job_id.into(), after_seq.into(), (after_seq + limit).into()],
    )
    .fetch_all(&mut *exec)
    .await?;
    let corrupt = |col: &str| sqlx::Error::ColumnDecode {
        index: col.into(),
        source: "unknown status code".into(),
    };
    let mut out = Vec::with_capacity(rows.len());
    let mut by_id: HashMap<i64, usize> = HashMap::with_capacity(rows.len());
    for r in &rows {
        let seq = get_i64(r, "seq")?;
        let status = get_str(r, "status")?;
        let Some(id) = get_opt_i64(r, "id")? else {
            out.push((seq, status, None));
            continue;
        };
        let order = Order {
            id,
            order_number: get_str(r, "order_number")?,
            customer_id: None,
            ordered_at: jiff::Timestamp::UNIX_EPOCH,
            billing: Address::default(),
            shipping: address_from_row(r, "shipping")?,
            items: Vec::new(),
            totals: Totals {
                tax_standard: get_i64(r, "tax_standard")?,
                tax_reduced: get_i64(r, "tax_reduced")?,
                total: get_i64(r, "total")?,
                ..Totals::default()
            },
            points_granted: 0,
            payment_method_id: get_opt_i64(r, "payment_method_id")?,
            carrier_id: get_opt_i64(r, "carrier_id")?,
            handling_status_id: 0,
            payment_status: PaymentStatus::Unpaid,
            shipping_list_state: ShippingListState::NotExported,
            shipping_list_exported_on: None,
            shipment_status: ShipmentStatus::from_code(&get_str(r, "shipment_status")?)
                .ok_or_else(|| corrupt("shipment_status"))?,
            tracking_number: get_opt_str(r, "tracking_number")?,
            scheduled_ship_date: parse_date_col(r, "scheduled_ship_date")?,
            scheduled_delivery_date: parse_date_col(r, "scheduled_delivery_date")?,
            shipped_at: parse_date_col(r, "shipped_at")?,
            delivered_at: parse_date_col(r, "delivered_at")?,
            paid_at: None,
            delivery_time_slot: get_opt_str(r, "delivery_time_slot")?,
            memo: String::new(),
            label_ids: Vec::new(),
            needs_attention: false,
            needs_attention_reason: String::new(),
            subscription_id: None,
            subscription_delivery_date: None,
            shipments: match get_opt_str(r, "shipments")? {
                None => Vec::new(),
                Some(json) => serde_json::from_str(&json).map_err(|_| corrupt("shipments"))?,
            },
            version: 0,
        };
        by_id.insert(id, out.len());
        out.push((seq, status, Some(order)));
    }
    let (Some(first), Some(last)) = (out.first(), out.last()) else {
        return Ok(out);
    };
    let items = query_with(
        "SELECT i.order_id, i.product_code, i.product_name, i.quantity, i.is_bundled_item \
         FROM order_items i WHERE i.order_id IN \
         (SELECT order_id FROM job_items WHERE job_id = $1 AND seq >= $2 AND seq <= $3) \
         ORDER BY i.order_id, i.position"
            .to_string(),
        vec![job_id.into(), first.0.into(), last.0.into()],
    )
    .fetch_all(&mut *exec)
    .await?;
    for r in &items {
        if let Some(&k) = by_id.get(&get_i64(r, "order_id")?)
            && let Some(o) = out[k].2.as_mut()
        {
            o.items.push(OrderItem {
                product_id: None,
                product_code: get_str(r, "product_code")?,
                product_name: get_str(r, "product_name")?,
                unit_price: 0,
                quantity: get_i64(r, "quantity")?,
                tax_rate: TaxRate::Standard,
                is_bundled_item: get_bool(r, "is_bundled_item")?,
                product_shipping_fee: None,
                product_payment_fee: None,
            });
        }
    }
    Ok(out)
}

/// Orders by id with their items and labels, in `ids`' order (missing ones
/// left out); 500 per statement.
pub(crate) async fn load_orders_by_ids(
    exec: &mut sqlx::AnyConnection,
    ids: &[i64],
) -> Result<Vec<Order>, StoreError> {
    let keys: Vec<Arg> = ids.iter().map(|id| Arg::from(*id)).collect();
    let mut by_id: HashMap<i64, Order> = select_orders_where(exec, "id", &keys, "")
        .await?
        .into_iter()
        .map(|o| (o.id, o))
        .collect();
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

/// The orders whose `column` is one of `keys`, with items and labels, 500 per
/// statement in id order; `suffix` is a row lock (`FOR UPDATE`) or "".
pub(crate) async fn select_orders_where(
    exec: &mut sqlx::AnyConnection,
    column: &str,
    keys: &[Arg],
    suffix: &str,
) -> Result<Vec<Order>, StoreError> {
    let mut out = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(500) {
        let sql = format!(
            "{} WHERE {column} IN ({}) ORDER BY id{suffix}",
            select_order_sql(),
            crate::db::in_list(chunk.len(), 1)
        );
        let rows = query_with(sql, chunk.to_vec())
            .fetch_all(&mut *exec)
            .await?;
        let mut orders = rows
            .iter()
            .map(order_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        attach_children(exec, &mut orders).await?;
        out.extend(orders);
    }
    Ok(out)
}

pub(crate) fn select_order_sql() -> String {
    format!("SELECT id, {} FROM orders", WRITE_COLUMNS.join(", "))
}

/// Row sets of new orders with their items and labels (ids already allocated).
pub(crate) fn new_order_rows(orders: &[Order], now: &str) -> Vec<Rows> {
    let mut cols: Vec<&str> = vec!["id"];
    cols.extend_from_slice(WRITE_COLUMNS);
    cols.push("created_at");
    let mut order_rows = Rows::new("orders", &cols);
    let mut items = Rows::new("order_items", ITEM_COLUMNS);
    let mut links = Rows::new("order_label_links", &["order_id", "label_id"]);
    for o in orders {
        order_rows.args.push(Arg::from(o.id));
        order_rows.args.extend(write_args(o, now));
        order_rows.args.push(now.into());
        for (p, i) in o.items.iter().enumerate() {
            item_args(o.id, p, i, &mut items.args);
        }
        for l in &o.label_ids {
            links.args.push(o.id.into());
            links.args.push((*l).into());
        }
    }
    vec![order_rows, items, links]
}

pub(crate) fn item_rows(order_id: i64, items: &[OrderItem]) -> Rows {
    let mut rows = Rows::new("order_items", ITEM_COLUMNS);
    for (p, i) in items.iter().enumerate() {
        item_args(order_id, p, i, &mut rows.args);
    }
    rows
}

pub(crate) fn label_rows(order_id: i64, labels: &[i64]) -> Rows {
    let mut rows = Rows::new("order_label_links", &["order_id", "label_id"]);
    for l in labels {
        rows.args.push(order_id.into());
        rows.args.push((*l).into());
    }
    rows
}

impl Store {
    /// An order with its items and labels.
    /// The orders of these numbers (those that exist), by number: one query per
    /// 500 numbers, one read snapshot.
    pub async fn orders_by_numbers(
        &self,
        numbers: &[String],
    ) -> Result<HashMap<String, Order>, StoreError> {
        let mut tx = self.begin_read().await?;
        let mut out = HashMap::with_capacity(numbers.len());
        for chunk in numbers.chunks(500) {
            let sql = format!(
                "{} WHERE order_number IN ({})",
                select_order_sql(),
                crate::db::in_list(chunk.len(), 1)
            );
            let rows = query_with(sql, chunk.iter().map(Arg::from).collect())
                .fetch_all(&mut *tx)
                .await?;
            let mut orders = rows
                .iter()
                .map(order_from_row)
                .collect::<Result<Vec<_>, _>>()?;
            attach_children(&mut tx, &mut orders).await?;
            out.extend(orders.into_iter().map(|o| (o.order_number.clone(), o)));
        }
        tx.commit().await?;
        Ok(out)
    }

    pub async fn order_by_number(&self, order_number: &str) -> Result<Order, StoreError> {
        // One snapshot for the order and its items/labels, so a concurrent change
        // never yields new items next to the old version number.
        let mut tx = self.begin_read().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{} WHERE order_number = $1",
            select_order_sql()
        )))
        .bind(order_number.to_string())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound("受注"))?;
        let mut orders = vec![order_from_row(&row)?];
        attach_children(&mut tx, &mut orders).await?;
        tx.commit().await?;
        Ok(orders.remove(0))
    }

    /// 履歴 of an order, oldest first.
    /// An order's custom attributes (アンケート結果 and the like), by name.
    pub async fn order_attributes(
        &self,
        order_id: i64,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, value FROM order_attributes WHERE order_id = $1 ORDER BY name",
        )
        .bind(order_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((get_str(r, "name")?, get_str(r, "value")?)))
            .collect()
    }

    pub async fn order_history(&self, order_number: &str) -> Result<Vec<HistoryEntry>, StoreError> {
        let row = sqlx::query("SELECT id FROM orders WHERE order_number = $1")
            .bind(order_number.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound("受注"))?;
        let rows = sqlx::query(
            "SELECT id, at, actor_kind, actor_name, field, before_value, after_value, reason FROM order_history WHERE order_id = $1 ORDER BY id",
        )
        .bind(get_i64(&row, "id")?)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let field = get_str(r, "field")?;
                Ok(HistoryEntry {
                    id: get_i64(r, "id")?,
                    at: get_str(r, "at")?,
                    actor_kind: get_str(r, "actor_kind")?,
                    actor_name: get_str(r, "actor_name")?,
                    field_label: juchu_domain::patch::field_label(&field).to_string(),
                    field,
                    before: get_str(r, "before_value")?,
                    after: get_str(r, "after_value")?,
                    reason: get_str(r, "reason")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Event kinds recorded for an order, oldest first (for tests and the UI).
    pub async fn order_events(
        &self,
        order_number: &str,
    ) -> Result<Vec<(String, String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT e.kind, e.payload, e.chain_depth FROM order_events e JOIN orders o ON o.id = e.order_id WHERE o.order_number = $1 ORDER BY e.id",
        )
        .bind(order_number.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    get_str(r, "kind")?,
                    get_str(r, "payload")?,
                    get_i64(r, "chain_depth")?,
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }
}
