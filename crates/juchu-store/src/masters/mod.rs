//! Master data: handling statuses, payment methods, carriers, labels, products,
//! and shop settings.

mod reasons;
pub(crate) use reasons::{DEFAULT_CANCEL_REASONS, DEFAULT_STOP_REASONS, load_reasons};

use crate::StoreError;
use crate::db::{Arg, Store, Tx, get_bool, get_i64, get_opt_i64, get_str, query_with};
use juchu_domain::FieldErrors;
use juchu_domain::masters::{
    Carrier, HandlingStatus, Masters, OrderLabel, PaymentMethod, Product, is_valid_color,
};
use juchu_domain::status::{RoundingMode, TaxRate};
use juchu_domain::text::{check_len, check_required};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use std::collections::HashMap;

fn status_from_row(r: &AnyRow) -> Result<HandlingStatus, sqlx::Error> {
    Ok(HandlingStatus {
        id: get_i64(r, "id")?,
        name: get_str(r, "name")?,
        position: get_i64(r, "position")?,
        color: get_str(r, "color")?,
        is_default: get_bool(r, "is_default")?,
    })
}

pub(crate) fn product_from_row(r: &AnyRow) -> Result<Product, sqlx::Error> {
    Ok(Product {
        id: get_i64(r, "id")?,
        code: get_str(r, "code")?,
        name: get_str(r, "name")?,
        unit_price: get_i64(r, "unit_price")?,
        tax_rate: TaxRate::from_percent(get_i64(r, "tax_rate")?).unwrap_or(TaxRate::Standard),
        shipping_fee: get_opt_i64(r, "shipping_fee")?,
        payment_fee: get_opt_i64(r, "payment_fee")?,
        is_bundled_item: get_bool(r, "is_bundled_item")?,
        is_subscription: get_bool(r, "is_subscription")?,
    })
}

const PRODUCT_COLUMNS: &str = "id, code, name, unit_price, tax_rate, shipping_fee, payment_fee, is_bundled_item, is_subscription";

/// Loads the masters snapshot, inside a transaction or on the pool.
pub(crate) async fn load_masters(exec: &mut sqlx::AnyConnection) -> Result<Masters, StoreError> {
    let statuses = sqlx::query(
        "SELECT id, name, position, color, is_default FROM handling_statuses ORDER BY position, id",
    )
    .fetch_all(&mut *exec)
    .await?;
    let methods =
        sqlx::query("SELECT id, code, name, fee FROM payment_methods ORDER BY position, id")
            .fetch_all(&mut *exec)
            .await?;
    let carriers = sqlx::query("SELECT id, code, name, tracking_url_template, shipping_fee FROM carriers ORDER BY position, id")
        .fetch_all(&mut *exec)
        .await?;
    let labels = sqlx::query("SELECT id, name, color FROM order_labels ORDER BY name")
        .fetch_all(&mut *exec)
        .await?;
    Ok(Masters {
        handling_statuses: statuses
            .iter()
            .map(status_from_row)
            .collect::<Result<_, _>>()?,
        payment_methods: methods
            .iter()
            .map(|r| {
                Ok(PaymentMethod {
                    id: get_i64(r, "id")?,
                    code: get_str(r, "code")?,
                    name: get_str(r, "name")?,
                    fee: get_i64(r, "fee")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?,
        carriers: carriers
            .iter()
            .map(|r| {
                Ok(Carrier {
                    id: get_i64(r, "id")?,
                    code: get_str(r, "code")?,
                    name: get_str(r, "name")?,
                    tracking_url_template: get_str(r, "tracking_url_template")?,
                    shipping_fee: get_i64(r, "shipping_fee")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?,
        labels: labels
            .iter()
            .map(|r| {
                Ok(OrderLabel {
                    id: get_i64(r, "id")?,
                    name: get_str(r, "name")?,
                    color: get_str(r, "color")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?,
    })
}

pub(crate) async fn load_rounding(tx: &mut Tx) -> Result<RoundingMode, StoreError> {
    let row = sqlx::query("SELECT value FROM settings WHERE key = 'tax_rounding'")
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row
        .and_then(|r| get_str(&r, "value").ok())
        .and_then(|v| RoundingMode::from_code(&v))
        .unwrap_or(RoundingMode::Floor))
}

/// Products by code, for the codes an order mentions.
pub(crate) async fn products_by_codes(
    tx: &mut Tx,
    codes: &[String],
) -> Result<HashMap<String, Product>, StoreError> {
    let mut unique: Vec<&String> = codes.iter().collect();
    unique.sort();
    unique.dedup();
    let mut out = HashMap::new();
    for chunk in unique.chunks(500) {
        let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT {PRODUCT_COLUMNS} FROM products WHERE code IN ({})",
            placeholders.join(", ")
        );
        let rows = query_with(sql, chunk.iter().map(|c| Arg::from(c.trim())).collect())
            .fetch_all(&mut **tx)
            .await?;
        for r in &rows {
            let p = product_from_row(r)?;
            out.insert(p.code.clone(), p);
        }
    }
    Ok(out)
}

/// Input of a handling status (対応状況管理).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HandlingStatusInput {
    pub name: String,
    #[serde(default)]
    pub position: Option<i64>,
    #[serde(default = "default_color")]
    pub color: String,
    #[serde(default)]
    pub is_default: bool,
}

fn default_color() -> String {
    "#337ab7".into()
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentMethodInput {
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub fee: i64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CarrierInput {
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub tracking_url_template: String,
    #[serde(default)]
    pub shipping_fee: i64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LabelInput {
    pub name: String,
    #[serde(default = "default_color")]
    pub color: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProductInput {
    pub code: String,
    pub name: String,
    pub unit_price: i64,
    /// 10 or 8.
    pub tax_rate: i64,
    #[serde(default)]
    pub shipping_fee: Option<i64>,
    #[serde(default)]
    pub payment_fee: Option<i64>,
    #[serde(default)]
    pub is_bundled_item: bool,
    #[serde(default)]
    pub is_subscription: bool,
}

fn check_code(errors: &mut FieldErrors, field: &str, code: &str) {
    check_required(errors, field, code);
    if code.len() > 64
        || !code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        errors.add(
            field,
            "invalid_code",
            "コードは64文字以内の英数字・-_. で入力してください",
        );
    }
}

fn check_money(errors: &mut FieldErrors, field: &str, v: i64) {
    if !(0..=100_000_000).contains(&v) {
        errors.add(field, "out_of_range", "0〜100,000,000円で入力してください");
    }
}

fn check_name(errors: &mut FieldErrors, field: &str, v: &str, max: usize) {
    check_required(errors, field, v);
    check_len(errors, field, v, max);
}

fn validate_handling_status(input: &HandlingStatusInput) -> Result<(), FieldErrors> {
    let mut e = FieldErrors::default();
    check_name(&mut e, "name", &input.name, 30);
    if !is_valid_color(&input.color) {
        e.add(
            "color",
            "invalid_color",
            "色は #rrggbb の形式で入力してください",
        );
    }
    e.into_result()?;
    Ok(())
}

fn validate_payment_method(input: &PaymentMethodInput) -> Result<(), FieldErrors> {
    let mut e = FieldErrors::default();
    check_code(&mut e, "code", &input.code);
    check_name(&mut e, "name", &input.name, 50);
    check_money(&mut e, "fee", input.fee);
    e.into_result()?;
    Ok(())
}

fn validate_carrier(input: &CarrierInput) -> Result<(), FieldErrors> {
    let mut e = FieldErrors::default();
    check_code(&mut e, "code", &input.code);
    check_name(&mut e, "name", &input.name, 50);
    check_money(&mut e, "shipping_fee", input.shipping_fee);
    check_len(
        &mut e,
        "tracking_url_template",
        &input.tracking_url_template,
        500,
    );
    if !input.tracking_url_template.is_empty() && !input.tracking_url_template.starts_with("http") {
        e.add(
            "tracking_url_template",
            "invalid_url",
            "追跡URLは http(s):// で始めてください",
        );
    }
    e.into_result()?;
    Ok(())
}

fn validate_label(input: &LabelInput) -> Result<(), FieldErrors> {
    let mut e = FieldErrors::default();
    check_name(&mut e, "name", &input.name, 30);
    if !is_valid_color(&input.color) {
        e.add(
            "color",
            "invalid_color",
            "色は #rrggbb の形式で入力してください",
        );
    }
    e.into_result()?;
    Ok(())
}

fn validate_product(input: &ProductInput) -> Result<TaxRate, FieldErrors> {
    let mut e = FieldErrors::default();
    check_code(&mut e, "code", &input.code);
    check_name(&mut e, "name", &input.name, 200);
    check_money(&mut e, "unit_price", input.unit_price);
    let tax_rate = TaxRate::from_percent(input.tax_rate);
    if tax_rate.is_none() {
        e.add(
            "tax_rate",
            "invalid_tax_rate",
            "税率は10または8（軽減税率）を指定してください",
        );
    }
    for (f, v) in [
        ("shipping_fee", input.shipping_fee),
        ("payment_fee", input.payment_fee),
    ] {
        if let Some(v) = v {
            check_money(&mut e, f, v);
        }
    }
    e.into_result()?;
    Ok(tax_rate.unwrap_or(TaxRate::Standard))
}

impl Store {
    pub async fn create_handling_status(
        &self,
        input: HandlingStatusInput,
    ) -> Result<HandlingStatus, StoreError> {
        validate_handling_status(&input)?;
        let mut tx = self.begin().await?;
        let position = match input.position {
            Some(p) => p,
            None => {
                let r = sqlx::query(
                    "SELECT COALESCE(MAX(position), 0) + 1 AS p FROM handling_statuses",
                )
                .fetch_one(&mut *tx)
                .await?;
                get_i64(&r, "p")?
            }
        };
        if input.is_default {
            sqlx::query("UPDATE handling_statuses SET is_default = 0")
                .execute(&mut *tx)
                .await?;
        }
        let row = sqlx::query(
            "INSERT INTO handling_statuses (name, position, color, is_default) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(input.name.trim().to_string())
        .bind(position)
        .bind(input.color.clone())
        .bind(input.is_default as i64)
        .fetch_one(&mut *tx)
        .await
        .map_err(|err| StoreError::unique_as_conflict(err, "name", format!("対応状況「{}」は既に登録されています", input.name)))?;
        let id = get_i64(&row, "id")?;
        crate::db::bump_masters_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(HandlingStatus {
            id,
            name: input.name.trim().into(),
            position,
            color: input.color,
            is_default: input.is_default,
        })
    }

    pub async fn create_payment_method(
        &self,
        input: PaymentMethodInput,
    ) -> Result<PaymentMethod, StoreError> {
        validate_payment_method(&input)?;
        let mut tx = self.begin().await?;
        let row = sqlx::query(
            "INSERT INTO payment_methods (code, name, fee, position) VALUES ($1, $2, $3, (SELECT COALESCE(MAX(position), 0) + 1 FROM payment_methods)) RETURNING id",
        )
        .bind(input.code.clone())
        .bind(input.name.trim().to_string())
        .bind(input.fee)
        .fetch_one(&mut *tx)
        .await
        .map_err(|err| StoreError::unique_as_conflict(err, "code", "同じコードまたは名称の支払方法が既にあります".into()))?;
        crate::db::bump_masters_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(PaymentMethod {
            id: get_i64(&row, "id")?,
            code: input.code,
            name: input.name.trim().into(),
            fee: input.fee,
        })
    }

    pub async fn create_carrier(&self, input: CarrierInput) -> Result<Carrier, StoreError> {
        validate_carrier(&input)?;
        let mut tx = self.begin().await?;
        let row = sqlx::query(
            "INSERT INTO carriers (code, name, tracking_url_template, shipping_fee, position) VALUES ($1, $2, $3, $4, (SELECT COALESCE(MAX(position), 0) + 1 FROM carriers)) RETURNING id",
        )
        .bind(input.code.clone())
        .bind(input.name.trim().to_string())
        .bind(input.tracking_url_template.clone())
        .bind(input.shipping_fee)
        .fetch_one(&mut *tx)
        .await
        .map_err(|err| StoreError::unique_as_conflict(err, "code", "同じコードまたは名称の配送業者が既にあります".into()))?;
        crate::db::bump_masters_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(Carrier {
            id: get_i64(&row, "id")?,
            code: input.code,
            name: input.name.trim().into(),
            tracking_url_template: input.tracking_url_template,
            shipping_fee: input.shipping_fee,
        })
    }

    pub async fn create_label(&self, input: LabelInput) -> Result<OrderLabel, StoreError> {
        validate_label(&input)?;
        let mut tx = self.begin().await?;
        let row =
            sqlx::query("INSERT INTO order_labels (name, color) VALUES ($1, $2) RETURNING id")
                .bind(input.name.trim().to_string())
                .bind(input.color.clone())
                .fetch_one(&mut *tx)
                .await
                .map_err(|err| {
                    StoreError::unique_as_conflict(
                        err,
                        "name",
                        format!("受注ラベル「{}」は既に登録されています", input.name),
                    )
                })?;
        crate::db::bump_masters_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(OrderLabel {
            id: get_i64(&row, "id")?,
            name: input.name.trim().into(),
            color: input.color,
        })
    }

    pub async fn create_product(&self, input: ProductInput) -> Result<Product, StoreError> {
        let tax_rate = validate_product(&input)?;
        let row = sqlx::query(
            "INSERT INTO products (code, name, unit_price, tax_rate, shipping_fee, payment_fee, is_bundled_item, is_subscription, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(input.code.clone())
        .bind(input.name.trim().to_string())
        .bind(input.unit_price)
        .bind(input.tax_rate)
        .bind(input.shipping_fee)
        .bind(input.payment_fee)
        .bind(input.is_bundled_item as i64)
        .bind(input.is_subscription as i64)
        .bind(self.clock.now_text())
        .fetch_one(&self.pool)
        .await
        .map_err(|err| StoreError::unique_as_conflict(err, "code", format!("商品コード「{}」は既に登録されています", input.code)))?;
        Ok(Product {
            id: get_i64(&row, "id")?,
            code: input.code,
            name: input.name.trim().into(),
            unit_price: input.unit_price,
            tax_rate,
            shipping_fee: input.shipping_fee,
            payment_fee: input.payment_fee,
            is_bundled_item: input.is_bundled_item,
            is_subscription: input.is_subscription,
        })
    }

    /// Changes a handling status. There is always exactly one default: making
    /// this one the default unsets the others; the default cannot simply be unset.
    pub async fn update_handling_status(
        &self,
        id: i64,
        input: HandlingStatusInput,
    ) -> Result<HandlingStatus, StoreError> {
        validate_handling_status(&input)?;
        let mut tx = self.begin().await?;
        let row = sqlx::query("SELECT position, is_default FROM handling_statuses WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound("対応状況"))?;
        let was_default = get_i64(&row, "is_default")? != 0;
        if was_default && !input.is_default {
            return Err(FieldErrors::single(
                "is_default",
                "default_required",
                "初期値の対応状況は1つ必要です。別の対応状況を初期値にしてください",
            )
            .into());
        }
        let position = match input.position {
            Some(p) => p,
            None => get_i64(&row, "position")?,
        };
        if input.is_default {
            sqlx::query("UPDATE handling_statuses SET is_default = 0 WHERE id <> $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "UPDATE handling_statuses SET name = $1, position = $2, color = $3, is_default = $4 WHERE id = $5",
        )
        .bind(input.name.trim().to_string())
        .bind(position)
        .bind(input.color.clone())
        .bind(input.is_default as i64)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|err| StoreError::unique_as_conflict(err, "name", format!("対応状況「{}」は既に登録されています", input.name)))?;
        crate::db::bump_masters_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(HandlingStatus {
            id,
            name: input.name.trim().into(),
            position,
            color: input.color,
            is_default: input.is_default,
        })
    }

    pub async fn update_payment_method(
        &self,
        id: i64,
        input: PaymentMethodInput,
    ) -> Result<PaymentMethod, StoreError> {
        validate_payment_method(&input)?;
        let mut tx = self.begin().await?;
        let n =
            sqlx::query("UPDATE payment_methods SET code = $1, name = $2, fee = $3 WHERE id = $4")
                .bind(input.code.clone())
                .bind(input.name.trim().to_string())
                .bind(input.fee)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(|err| {
                    StoreError::unique_as_conflict(
                        err,
                        "code",
                        "同じコードまたは名称の支払方法が既にあります".into(),
                    )
                })?
                .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound("支払方法"));
        }
        crate::db::bump_masters_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(PaymentMethod {
            id,
            code: input.code,
            name: input.name.trim().into(),
            fee: input.fee,
        })
    }

    pub async fn update_carrier(
        &self,
        id: i64,
        input: CarrierInput,
    ) -> Result<Carrier, StoreError> {
        validate_carrier(&input)?;
        let mut tx = self.begin().await?;
        let n = sqlx::query(
            "UPDATE carriers SET code = $1, name = $2, tracking_url_template = $3, shipping_fee = $4 WHERE id = $5",
        )
        .bind(input.code.clone())
        .bind(input.name.trim().to_string())
        .bind(input.tracking_url_template.clone())
        .bind(input.shipping_fee)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|err| StoreError::unique_as_conflict(err, "code", "同じコードまたは名称の配送業者が既にあります".into()))?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound("配送業者"));
        }
        crate::db::bump_masters_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(Carrier {
            id,
            code: input.code,
            name: input.name.trim().into(),
            tracking_url_template: input.tracking_url_template,
            shipping_fee: input.shipping_fee,
        })
    }

    pub async fn update_label(&self, id: i64, input: LabelInput) -> Result<OrderLabel, StoreError> {
        validate_label(&input)?;
        let mut tx = self.begin().await?;
        let n = sqlx::query("UPDATE order_labels SET name = $1, color = $2 WHERE id = $3")
            .bind(input.name.trim().to_string())
            .bind(input.color.clone())
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|err| {
                StoreError::unique_as_conflict(
                    err,
                    "name",
                    format!("受注ラベル「{}」は既に登録されています", input.name),
                )
            })?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound("受注ラベル"));
        }
        crate::db::bump_masters_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(OrderLabel {
            id,
            name: input.name.trim().into(),
            color: input.color,
        })
    }

    /// Changes a product. Orders keep the name, price and tax rate they were
    /// taken at; only new orders and newly added lines use the new values.
    pub async fn update_product(
        &self,
        id: i64,
        input: ProductInput,
    ) -> Result<Product, StoreError> {
        let tax_rate = validate_product(&input)?;
        let n = sqlx::query(
            "UPDATE products SET code = $1, name = $2, unit_price = $3, tax_rate = $4, shipping_fee = $5, payment_fee = $6, is_bundled_item = $7, is_subscription = $8 WHERE id = $9",
        )
        .bind(input.code.clone())
        .bind(input.name.trim().to_string())
        .bind(input.unit_price)
        .bind(input.tax_rate)
        .bind(input.shipping_fee)
        .bind(input.payment_fee)
        .bind(input.is_bundled_item as i64)
        .bind(input.is_subscription as i64)
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(|err| StoreError::unique_as_conflict(err, "code", format!("商品コード「{}」は既に登録されています", input.code)))?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound("商品"));
        }
        Ok(Product {
            id,
            code: input.code,
            name: input.name.trim().into(),
            unit_price: input.unit_price,
            tax_rate,
            shipping_fee: input.shipping_fee,
            payment_fee: input.payment_fee,
            is_bundled_item: input.is_bundled_item,
            is_subscription: input.is_subscription,
        })
    }

    pub async fn list_products(
        &self,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<Product>, i64), StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PRODUCT_COLUMNS} FROM products ORDER BY code LIMIT $1 OFFSET $2"
        )))
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        let total = get_i64(
            &sqlx::query("SELECT COUNT(*) AS n FROM products")
                .fetch_one(&self.pool)
                .await?,
            "n",
        )?;
        Ok((
            rows.iter()
                .map(product_from_row)
                .collect::<Result<_, _>>()?,
            total,
        ))
    }

    pub async fn product_by_code(&self, code: &str) -> Result<Product, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PRODUCT_COLUMNS} FROM products WHERE code = $1"
        )))
        .bind(code.to_string())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound("商品"))?;
        Ok(product_from_row(&row)?)
    }

    pub async fn product_by_id(&self, id: i64) -> Result<Option<Product>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PRODUCT_COLUMNS} FROM products WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(product_from_row).transpose()?)
    }

    pub async fn rounding_mode(&self) -> Result<RoundingMode, StoreError> {
        let mut tx = self.pool.begin().await?;
        let r = load_rounding(&mut tx).await;
        tx.commit().await?;
        r
    }
}
