//! JSON shapes of the API, kept apart from the domain types so the API can stay
//! stable while the domain evolves.

use juchu_domain::customer::{Address, Customer, CustomerInput};
use juchu_domain::masters::{Carrier, HandlingStatus, Masters, OrderLabel, PaymentMethod, Product};
use juchu_domain::order::{ItemInput, Order, OrderItem};
use juchu_domain::patch::OrderPatch;
use juchu_store::HistoryEntry;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

/// Distinguishes an absent field (`None`) from `null` (`Some(None)`).
pub(crate) fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// The API's address is the domain's [`Address`] (schema name `AddressJson`).
pub use juchu_domain::customer::Address as AddressJson;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemInputJson {
    pub product_code: String,
    pub quantity: i64,
    /// Tax-included unit price overriding the product's.
    #[serde(default)]
    pub unit_price: Option<i64>,
}

impl From<ItemInputJson> for ItemInput {
    fn from(i: ItemInputJson) -> Self {
        ItemInput {
            product_code: i.product_code,
            quantity: i.quantity,
            unit_price: i.unit_price,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ItemJson {
    pub product_code: String,
    pub product_name: String,
    /// Tax included.
    pub unit_price: i64,
    pub quantity: i64,
    pub amount: i64,
    /// 10 or 8.
    pub tax_rate: i64,
    /// 同梱物
    pub is_bundled_item: bool,
}

impl From<&OrderItem> for ItemJson {
    fn from(i: &OrderItem) -> Self {
        ItemJson {
            product_code: i.product_code.clone(),
            product_name: i.product_name.clone(),
            unit_price: i.unit_price,
            quantity: i.quantity,
            amount: i.amount(),
            tax_rate: i.tax_rate.percent(),
            is_bundled_item: i.is_bundled_item,
        }
    }
}

/// An order. Money is integer yen, tax included; dates are `YYYY-MM-DD`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderJson {
    pub order_number: String,
    /// Send back with PATCH; a stale version is refused with 409.
    pub version: i64,
    /// RFC 3339, UTC.
    pub ordered_at: String,
    pub customer_id: Option<i64>,
    /// 対応状況 (its Japanese name).
    pub handling_status: String,
    /// 決済状況 (Japanese label, e.g. 未決済).
    pub payment_status: String,
    /// 決済状況 code (e.g. `unpaid`).
    pub payment_status_code: String,
    pub payment_method: Option<String>,
    pub carrier: Option<String>,
    /// 出荷リスト: 未出力 / 出力済
    pub shipping_list_state: String,
    pub shipping_list_exported_on: Option<String>,
    /// 発送状況: 未発送 / 発送指示 / 発送済
    pub shipment_status: String,
    /// 配送伝票番号
    pub tracking_number: Option<String>,
    pub tracking_url: Option<String>,
    pub scheduled_ship_date: Option<String>,
    pub scheduled_delivery_date: Option<String>,
    pub shipped_at: Option<String>,
    pub delivered_at: Option<String>,
    pub paid_at: Option<String>,
    pub delivery_time_slot: Option<String>,
    pub memo: String,
    pub labels: Vec<String>,
    /// 要対応受注
    pub needs_attention: bool,
    pub needs_attention_reason: String,
    pub needs_attention_reasons: Vec<String>,
    /// Why the blacklist screening flagged the order: which fields matched, and
    /// against which blacklisted customer or condition (single-order responses).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attention_matches: Vec<AttentionMatchJson>,
    /// Custom attributes (single-order responses).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub attributes: std::collections::BTreeMap<String, String>,
    /// The subscription (定期受注) this order started or was created by.
    pub subscription_id: Option<i64>,
    /// For a subscription's order: the delivery it was created for.
    pub subscription_delivery_date: Option<String>,
    pub billing: AddressJson,
    pub shipping: AddressJson,
    pub items: Vec<ItemJson>,
    /// The packages (出荷) the order is sent in: one with every item unless
    /// split (分納). The order's shipping fields above summarise them: 発送状況
    /// is the least advanced package's, 発送完了日 / 配送完了日 the last one's
    /// once all are shipped / delivered, 配送伝票番号 the first number.
    pub shipments: Vec<ShipmentJson>,
    pub items_standard: i64,
    pub items_reduced: i64,
    pub shipping_fee: i64,
    pub payment_fee: i64,
    pub discount: i64,
    /// Consumption tax contained at 10%.
    pub tax_standard: i64,
    /// Consumption tax contained at 8%.
    pub tax_reduced: i64,
    pub points_used: i64,
    pub points_granted: i64,
    /// What the customer pays.
    pub total: i64,
}

/// One package of an order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShipmentJson {
    /// `{order_number}-{number}`: what carrier files carry as お客様管理番号,
    /// and what the 出荷ID column of an import names.
    pub id: String,
    /// 1, 2, … within the order.
    pub number: u32,
    /// 配送業者 (the order's unless the package has its own).
    pub carrier: Option<String>,
    /// 発送状況: 未発送 / 発送指示 / 発送済
    pub status: String,
    /// Every parcel's number (several for 個数口).
    pub tracking_numbers: Vec<String>,
    pub tracking_urls: Vec<String>,
    pub scheduled_ship_date: Option<String>,
    pub shipped_at: Option<String>,
    pub scheduled_delivery_date: Option<String>,
    pub delivery_time_slot: Option<String>,
    pub delivered_at: Option<String>,
    pub items: Vec<ShipmentItemJson>,
}

/// How many of one order line a package carries.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShipmentItemJson {
    /// Index into the order's `items` (from 0).
    pub line: usize,
    pub product_code: String,
    pub product_name: String,
    pub quantity: i64,
}

impl ShipmentJson {
    pub fn new(o: &Order, s: &juchu_domain::shipment::Shipment, m: &Masters) -> Self {
        let carrier = o.shipment_carrier_id(s).and_then(|id| m.carrier(id));
        ShipmentJson {
            id: juchu_domain::shipment::public_id(&o.order_number, s.number),
            number: s.number,
            carrier: carrier.map(|c| c.name.clone()),
            status: s.status.label().into(),
            tracking_numbers: s.tracking_numbers.clone(),
            tracking_urls: s
                .tracking_numbers
                .iter()
                .filter_map(|t| carrier.and_then(|c| c.tracking_url(t)))
                .collect(),
            scheduled_ship_date: date(s.scheduled_ship_date),
            shipped_at: date(s.shipped_at),
            scheduled_delivery_date: date(s.scheduled_delivery_date),
            delivery_time_slot: s.delivery_time_slot.clone(),
            delivered_at: date(s.delivered_at),
            items: s
                .items
                .iter()
                .map(|it| {
                    let line = o.items.get(it.line);
                    ShipmentItemJson {
                        line: it.line,
                        product_code: line.map(|l| l.product_code.clone()).unwrap_or_default(),
                        product_name: line.map(|l| l.product_name.clone()).unwrap_or_default(),
                        quantity: it.quantity,
                    }
                })
                .collect(),
        }
    }
}

/// A change to one package, by its `number`. Omitted fields stay; `null`
/// clears a date, the slot or the package's own carrier.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShipmentPatchJson {
    pub number: u32,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub carrier: Option<Option<String>>,
    /// 未発送 / 発送指示 / 発送済 (発送済 without `shipped_at` records today).
    #[serde(default)]
    pub status: Option<String>,
    /// The package's numbers as a whole (個数口: several); `[]` clears them.
    /// A first number on a 未発送 package ships it today unless `status` is given.
    #[serde(default)]
    pub tracking_numbers: Option<Vec<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub scheduled_ship_date: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub shipped_at: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub scheduled_delivery_date: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub delivery_time_slot: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub delivered_at: Option<Option<String>>,
}

impl From<ShipmentPatchJson> for juchu_domain::shipment_change::ShipmentPatch {
    fn from(p: ShipmentPatchJson) -> Self {
        juchu_domain::shipment_change::ShipmentPatch {
            number: p.number,
            carrier: p.carrier,
            status: p.status,
            tracking_numbers: p.tracking_numbers,
            scheduled_ship_date: p.scheduled_ship_date,
            shipped_at: p.shipped_at,
            scheduled_delivery_date: p.scheduled_delivery_date,
            delivery_time_slot: p.delivery_time_slot,
            delivered_at: p.delivered_at,
        }
    }
}

/// 分納: the quantities of order lines moved from package `from` (default 1)
/// into a new package.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SplitShipmentJson {
    #[serde(default)]
    pub from: Option<u32>,
    pub items: Vec<SplitItemJson>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SplitItemJson {
    /// Index into the order's `items` (from 0).
    pub line: usize,
    pub quantity: i64,
}

fn date(d: Option<jiff::civil::Date>) -> Option<String> {
    d.map(|d| d.to_string())
}

impl OrderJson {
    pub fn new(o: &Order, m: &Masters) -> Self {
        let carrier = o.carrier_id.and_then(|id| m.carrier(id));
        OrderJson {
            order_number: o.order_number.clone(),
            version: o.version,
            ordered_at: juchu_domain::time::format_ts(o.ordered_at),
            customer_id: o.customer_id,
            handling_status: m
                .handling_status(o.handling_status_id)
                .map(|s| s.name.clone())
                .unwrap_or_default(),
            payment_status: o.payment_status.label().into(),
            payment_status_code: o.payment_status.code().into(),
            payment_method: o
                .payment_method_id
                .and_then(|id| m.payment_method(id))
                .map(|x| x.name.clone()),
            carrier: carrier.map(|c| c.name.clone()),
            shipping_list_state: o.shipping_list_state.label().into(),
            shipping_list_exported_on: date(o.shipping_list_exported_on),
            shipment_status: o.shipment_status.label().into(),
            tracking_number: o.tracking_number.clone(),
            tracking_url: carrier
                .zip(o.tracking_number.as_deref())
                .and_then(|(c, t)| c.tracking_url(t)),
            scheduled_ship_date: date(o.scheduled_ship_date),
            scheduled_delivery_date: date(o.scheduled_delivery_date),
            shipped_at: date(o.shipped_at),
            delivered_at: date(o.delivered_at),
            paid_at: date(o.paid_at),
            delivery_time_slot: o.delivery_time_slot.clone(),
            memo: o.memo.clone(),
            labels: o
                .label_ids
                .iter()
                .filter_map(|id| m.label(*id).map(|l| l.name.clone()))
                .collect(),
            needs_attention: o.needs_attention,
            needs_attention_reason: o.needs_attention_reason.clone(),
            needs_attention_reasons: if o.needs_attention_reason.is_empty() {
                vec![]
            } else if juchu_domain::blacklist::is_screening_reason(&o.needs_attention_reason) {
                // Several screening reasons are stored joined by 、.
                o.needs_attention_reason
                    .split('、')
                    .map(str::to_string)
                    .collect()
            } else {
                vec![o.needs_attention_reason.clone()]
            },
            attention_matches: Vec::new(),
            attributes: Default::default(),
            subscription_id: o.subscription_id,
            subscription_delivery_date: date(o.subscription_delivery_date),
            billing: o.billing.clone(),
            shipping: o.shipping.clone(),
            items: o.items.iter().map(ItemJson::from).collect(),
            shipments: o
                .effective_shipments()
                .iter()
                .map(|s| ShipmentJson::new(o, s, m))
                .collect(),
            items_standard: o.totals.items_standard,
            items_reduced: o.totals.items_reduced,
            shipping_fee: o.totals.shipping_fee,
            payment_fee: o.totals.payment_fee,
            discount: o.totals.discount,
            tax_standard: o.totals.tax_standard,
            tax_reduced: o.totals.tax_reduced,
            points_used: o.totals.points_used,
            points_granted: o.points_granted,
            total: o.totals.total,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderListJson {
    pub orders: Vec<OrderJson>,
    /// Matching orders; counted exactly up to 10,000 unless `exact_total=true`.
    pub total: i64,
    /// False when there are more than `total` matches (the count stopped at 10,000).
    pub total_is_exact: bool,
    pub page: i64,
    pub per_page: i64,
    /// With `after` or `updated_since`: pass as `after` for the next page
    /// (null when this page is empty: ask again later from the same `after`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after: Option<String>,
}

/// A new customer given inline with an order, or created on its own.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerBody {
    pub family_name: String,
    #[serde(default)]
    pub given_name: String,
    #[serde(default)]
    pub family_kana: String,
    #[serde(default)]
    pub given_kana: String,
    /// 会社名
    #[serde(default)]
    pub company_name: String,
    /// 部署
    #[serde(default)]
    pub department: String,
    pub postal_code: String,
    pub prefecture: String,
    pub address1: String,
    #[serde(default)]
    pub address2: String,
    pub phone: String,
    pub email: String,
    /// メール設定: 送信しない
    #[serde(default)]
    pub mail_opt_out: bool,
    #[serde(default)]
    pub points: i64,
    #[serde(default)]
    pub memo: String,
}

impl From<CustomerBody> for CustomerInput {
    fn from(c: CustomerBody) -> Self {
        CustomerInput {
            address: Address {
                family_name: c.family_name,
                given_name: c.given_name,
                family_kana: c.family_kana,
                given_kana: c.given_kana,
                company_name: c.company_name,
                department: c.department,
                postal_code: c.postal_code,
                prefecture: c.prefecture,
                address1: c.address1,
                address2: c.address2,
                phone: c.phone,
                email: c.email,
            },
            mail_opt_out: c.mail_opt_out,
            points: c.points,
            memo: c.memo,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerJson {
    pub id: i64,
    pub family_name: String,
    pub given_name: String,
    pub family_kana: String,
    pub given_kana: String,
    /// 会社名
    pub company_name: String,
    /// 部署
    pub department: String,
    pub postal_code: String,
    pub prefecture: String,
    pub address1: String,
    pub address2: String,
    pub phone: String,
    pub email: String,
    pub mail_opt_out: bool,
    pub points: i64,
    pub memo: String,
    pub created_at: String,
    /// ブラックリスト.
    pub blacklisted: bool,
    pub blacklist_reason: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttentionMatchJson {
    /// ブラックリストからの受注 / ブラックリスト類似顧客からの受注 / ブラックリスト条件合致者からの受注
    pub reason: String,
    pub detail: String,
    /// The blacklisted customer matched.
    pub customer_id: Option<i64>,
    /// The ブラックリスト条件 matched.
    pub condition_id: Option<i64>,
    /// The fields that matched (姓名, 電話番号 …).
    pub fields: Vec<String>,
}

impl From<juchu_domain::blacklist::AttentionMatch> for AttentionMatchJson {
    fn from(m: juchu_domain::blacklist::AttentionMatch) -> Self {
        AttentionMatchJson {
            reason: m.reason,
            detail: m.detail,
            customer_id: m.customer_id,
            condition_id: m.condition_id,
            fields: m.fields,
        }
    }
}

impl From<&Customer> for CustomerJson {
    fn from(c: &Customer) -> Self {
        let a = &c.address;
        CustomerJson {
            id: c.id,
            family_name: a.family_name.clone(),
            given_name: a.given_name.clone(),
            family_kana: a.family_kana.clone(),
            given_kana: a.given_kana.clone(),
            company_name: a.company_name.clone(),
            department: a.department.clone(),
            postal_code: a.postal_code.clone(),
            prefecture: a.prefecture.clone(),
            address1: a.address1.clone(),
            address2: a.address2.clone(),
            phone: a.phone.clone(),
            email: a.email.clone(),
            mail_opt_out: c.mail_opt_out,
            points: c.points,
            memo: c.memo.clone(),
            created_at: c.created_at.clone(),
            blacklisted: c.blacklisted,
            blacklist_reason: c.blacklist_reason.clone(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrderBody {
    /// Your own order number (1–32 of A–Z a–z 0–9 - _); generated when absent.
    #[serde(default)]
    pub order_number: Option<String>,
    /// An existing customer; the billing data defaults to theirs.
    #[serde(default)]
    pub customer_id: Option<i64>,
    /// A new customer, created with the order.
    #[serde(default)]
    pub customer: Option<CustomerBody>,
    /// 請求者. Required unless a customer is given.
    #[serde(default)]
    pub billing: Option<AddressJson>,
    /// お届け先; defaults to the billing address.
    #[serde(default)]
    pub shipping: Option<AddressJson>,
    pub items: Vec<ItemInputJson>,
    /// Code or Japanese name, e.g. `cod` or `代金引換`.
    #[serde(default)]
    pub payment_method: Option<String>,
    /// The card token from the storefront (sandbox: a test card number such as
    /// 4111111111111111). A 未決済 order paid by card with a token — and any
    /// 未決済 order paid by 後払い, 代金引換 or 振込 — is sent for 与信処理.
    #[serde(default)]
    pub card_token: Option<String>,
    #[serde(default)]
    pub carrier: Option<String>,
    /// Defaults to the shop's default status (注文確定).
    #[serde(default)]
    pub handling_status: Option<String>,
    #[serde(default)]
    pub payment_status: Option<String>,
    #[serde(default)]
    pub discount: i64,
    #[serde(default)]
    pub points_used: i64,
    #[serde(default)]
    pub points_granted: i64,
    #[serde(default)]
    pub scheduled_delivery_date: Option<String>,
    #[serde(default)]
    pub scheduled_ship_date: Option<String>,
    #[serde(default)]
    pub delivery_time_slot: Option<String>,
    #[serde(default)]
    pub memo: String,
    #[serde(default)]
    pub labels: Vec<String>,
    /// For an order with subscription products (定期商品): the cycle of the
    /// subscription it starts, e.g. `{"kind": "months", "every": 1, "day": 15}`,
    /// `{"kind": "weeks", "every": 2, "weekday": 1}` (1 = Monday) or
    /// `{"kind": "days", "every": 30}`. Default: the shop's setting (every month).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub subscription_cycle: Option<juchu_domain::calendar::Cycle>,
    /// RFC 3339; defaults to now.
    #[serde(default)]
    pub ordered_at: Option<String>,
    /// For orders imported already shipped: 配送伝票番号, 発送状況, 発送完了日, 配送完了日, 入金日.
    #[serde(default)]
    pub tracking_number: Option<String>,
    #[serde(default)]
    pub shipment_status: Option<String>,
    #[serde(default)]
    pub shipped_at: Option<String>,
    #[serde(default)]
    pub delivered_at: Option<String>,
    #[serde(default)]
    pub paid_at: Option<String>,
    /// Custom attributes (e.g. survey answers: `{"好きな色": "青"}`), exportable
    /// as `attribute:<name>` CSV columns. Up to 50; names ≤ 50, values ≤ 1,000 characters.
    #[serde(default)]
    pub attributes: std::collections::BTreeMap<String, String>,
}

/// A change. Absent fields are left alone; `null` clears a clearable field.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchOrderBody {
    /// The version you read; required.
    pub version: i64,
    /// Why (shown in 履歴).
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub handling_status: Option<String>,
    /// Only along the payment flow (e.g. 仮売上完了 → 売上完了); other changes are
    /// refused with `illegal_transition`.
    #[serde(default)]
    pub payment_status: Option<String>,
    /// 強制売上 / 強制取消 (or `force_capture` / `force_cancel`): sets 売上完了 /
    /// 取消完了 whatever the status, without calling the provider; 履歴 says so.
    #[serde(default)]
    pub payment_override: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub payment_method: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub carrier: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub tracking_number: Option<Option<String>>,
    #[serde(default)]
    pub shipment_status: Option<String>,
    #[serde(default)]
    pub shipping_list_state: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub shipping_list_exported_on: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub scheduled_ship_date: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub scheduled_delivery_date: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub shipped_at: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub delivered_at: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub paid_at: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub delivery_time_slot: Option<Option<String>>,
    #[serde(default)]
    pub memo: Option<String>,
    #[serde(default)]
    pub labels: Option<Vec<String>>,
    #[serde(default)]
    pub needs_attention: Option<bool>,
    #[serde(default)]
    pub needs_attention_reason: Option<String>,
    #[serde(default)]
    pub discount: Option<i64>,
    #[serde(default)]
    pub points_used: Option<i64>,
    #[serde(default)]
    pub points_granted: Option<i64>,
    #[serde(default)]
    pub items: Option<Vec<ItemInputJson>>,
    #[serde(default)]
    pub billing: Option<AddressJson>,
    #[serde(default)]
    pub shipping: Option<AddressJson>,
    /// Changes to packages (出荷情報編集), by number.
    #[serde(default)]
    pub shipments: Option<Vec<ShipmentPatchJson>>,
    /// 分納: move items into a new package.
    #[serde(default)]
    pub split_shipment: Option<SplitShipmentJson>,
    /// Put a package (not shipped) back into the first package not yet shipped.
    #[serde(default)]
    pub merge_shipment: Option<u32>,
}

impl PatchOrderBody {
    pub fn into_patch(self) -> (i64, String, OrderPatch) {
        let patch = OrderPatch {
            handling_status: self.handling_status,
            payment_status: self.payment_status,
            payment_method: self.payment_method,
            carrier: self.carrier,
            tracking_number: self.tracking_number,
            shipment_status: self.shipment_status,
            shipping_list_state: self.shipping_list_state,
            shipping_list_exported_on: self.shipping_list_exported_on,
            scheduled_ship_date: self.scheduled_ship_date,
            scheduled_delivery_date: self.scheduled_delivery_date,
            shipped_at: self.shipped_at,
            delivered_at: self.delivered_at,
            paid_at: self.paid_at,
            delivery_time_slot: self.delivery_time_slot,
            memo: self.memo,
            labels: self.labels,
            needs_attention: self.needs_attention,
            needs_attention_reason: self.needs_attention_reason,
            discount: self.discount,
            points_used: self.points_used,
            points_granted: self.points_granted,
            items: self.items.map(|v| v.into_iter().map(Into::into).collect()),
            billing: self.billing,
            shipping: self.shipping,
            payment_override: self.payment_override,
            shipments: juchu_domain::shipment_change::ShipmentsPatch {
                shipments: self
                    .shipments
                    .unwrap_or_default()
                    .into_iter()
                    .map(Into::into)
                    .collect(),
                split: self
                    .split_shipment
                    .map(|s| juchu_domain::shipment_change::SplitShipment {
                        from: s.from.unwrap_or(1),
                        items: s
                            .items
                            .into_iter()
                            .map(|i| juchu_domain::shipment::ShipmentItem {
                                line: i.line,
                                quantity: i.quantity,
                            })
                            .collect(),
                    }),
                merge: self.merge_shipment,
            },
        };
        (self.version, self.reason.unwrap_or_default(), patch)
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HistoryJson {
    pub at: String,
    /// staff / api_token / rule / system
    pub actor_kind: String,
    pub actor_name: String,
    pub field: String,
    /// Japanese name of the field.
    pub field_label: String,
    pub before: String,
    pub after: String,
    pub reason: String,
}

impl From<HistoryEntry> for HistoryJson {
    fn from(h: HistoryEntry) -> Self {
        HistoryJson {
            at: h.at,
            actor_kind: h.actor_kind,
            actor_name: h.actor_name,
            field: h.field,
            field_label: h.field_label,
            before: h.before,
            after: h.after,
            reason: h.reason,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProductJson {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub unit_price: i64,
    pub tax_rate: i64,
    pub shipping_fee: Option<i64>,
    pub payment_fee: Option<i64>,
    pub is_bundled_item: bool,
    pub is_subscription: bool,
}

impl From<&Product> for ProductJson {
    fn from(p: &Product) -> Self {
        ProductJson {
            id: p.id,
            code: p.code.clone(),
            name: p.name.clone(),
            unit_price: p.unit_price,
            tax_rate: p.tax_rate.percent(),
            shipping_fee: p.shipping_fee,
            payment_fee: p.payment_fee,
            is_bundled_item: p.is_bundled_item,
            is_subscription: p.is_subscription,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HandlingStatusJson {
    pub id: i64,
    pub name: String,
    pub position: i64,
    pub color: String,
    pub is_default: bool,
}

impl From<&HandlingStatus> for HandlingStatusJson {
    fn from(s: &HandlingStatus) -> Self {
        HandlingStatusJson {
            id: s.id,
            name: s.name.clone(),
            position: s.position,
            color: s.color.clone(),
            is_default: s.is_default,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaymentMethodJson {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub fee: i64,
}

impl From<&PaymentMethod> for PaymentMethodJson {
    fn from(m: &PaymentMethod) -> Self {
        PaymentMethodJson {
            id: m.id,
            code: m.code.clone(),
            name: m.name.clone(),
            fee: m.fee,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CarrierJson {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub tracking_url_template: String,
    pub shipping_fee: i64,
}

impl From<&Carrier> for CarrierJson {
    fn from(c: &Carrier) -> Self {
        CarrierJson {
            id: c.id,
            code: c.code.clone(),
            name: c.name.clone(),
            tracking_url_template: c.tracking_url_template.clone(),
            shipping_fee: c.shipping_fee,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LabelJson {
    pub id: i64,
    pub name: String,
    pub color: String,
}

impl From<&OrderLabel> for LabelJson {
    fn from(l: &OrderLabel) -> Self {
        LabelJson {
            id: l.id,
            name: l.name.clone(),
            color: l.color.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ListJson<T: ToSchema> {
    pub items: Vec<T>,
    pub total: i64,
}

/// One row's result (行, 受注番号, 結果, 内容).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportRowJson {
    /// The file's line (the header is line 1).
    pub row: usize,
    pub order_number: String,
    /// 変更 / 変更なし / エラー
    pub outcome: String,
    /// What changes, or why the row is refused.
    pub message: String,
}

/// The preview (`dry_run=true`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportJson {
    /// true: a preview, nothing changed.
    pub dry_run: bool,
    pub rows: Vec<ImportRowJson>,
    pub changed: usize,
    pub unchanged: usize,
    pub refused: usize,
}

impl ImportJson {
    pub fn of(rows: Vec<juchu_domain::shipment_import::ImportRowResult>) -> ImportJson {
        let count = |o: &str| rows.iter().filter(|r| r.outcome == o).count();
        ImportJson {
            dry_run: true,
            changed: count("変更"),
            unchanged: count("変更なし"),
            refused: count("エラー"),
            rows: rows
                .into_iter()
                .map(|r| ImportRowJson {
                    row: r.row,
                    order_number: r.order_number,
                    outcome: r.outcome,
                    message: r.message,
                })
                .collect(),
        }
    }
}
