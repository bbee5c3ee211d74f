//! 出荷設定 (the sender and the carriers' customer codes, one settings row
//! as JSON) and the shop's own 出荷実績インポート formats (header mappings).

use crate::StoreError;
use crate::db::{Store, get_i64, get_str};
use juchu_domain::FieldErrors;
use juchu_domain::carrier_file::ShippingSettings;
use juchu_domain::shipment_import::Layout;

const SETTINGS_KEY: &str = "shipping.carrier_settings";

/// A shop-defined import format: which header names mean what.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImportFormat {
    pub id: i64,
    pub name: String,
    pub layout: Layout,
}

/// The header names a shop gives for a saved format (one per role; 受注番号
/// or 出荷ID, and 配送伝票番号, required).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(default)]
pub struct ImportFormatInput {
    pub name: String,
    pub order_number: String,
    pub shipment_id: String,
    pub tracking_number: String,
    pub carrier: String,
    pub shipment_status: String,
    pub shipped_at: String,
    /// A carrier master code when every row is that carrier's.
    pub carrier_code: String,
}

impl ImportFormatInput {
    fn layout(&self, errors: &mut FieldErrors) -> Layout {
        let one = |s: &str| {
            let s = s.trim();
            if s.is_empty() {
                vec![]
            } else {
                vec![s.to_string()]
            }
        };
        if self.name.trim().is_empty() {
            errors.add("name", "required", "形式の名前を入力してください");
        }
        juchu_domain::text::check_len(errors, "name", &self.name, 100);
        if self.order_number.trim().is_empty() && self.shipment_id.trim().is_empty() {
            errors.add(
                "order_number",
                "required",
                "受注番号か出荷ID（お客様管理番号）の見出しを入力してください",
            );
        }
        if self.tracking_number.trim().is_empty() {
            errors.add(
                "tracking_number",
                "required",
                "配送伝票番号の見出しを入力してください",
            );
        }
        Layout {
            order_number: one(&self.order_number),
            shipment_id: one(&self.shipment_id),
            tracking_number: one(&self.tracking_number),
            carrier: one(&self.carrier),
            shipment_status: one(&self.shipment_status),
            shipped_at: one(&self.shipped_at),
            carrier_code: self.carrier_code.trim().to_string(),
            headerless: None,
        }
    }
}

impl Store {
    /// 出荷設定 (defaults: everything empty).
    pub async fn shipping_settings(&self) -> Result<ShippingSettings, StoreError> {
        let row = sqlx::query("SELECT value FROM settings WHERE key = $1")
            .bind(SETTINGS_KEY)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            None => ShippingSettings::default(),
            Some(r) => serde_json::from_str(&get_str(&r, "value")?).unwrap_or_default(),
        })
    }

    pub async fn save_shipping_settings(
        &self,
        s: &ShippingSettings,
    ) -> Result<ShippingSettings, StoreError> {
        let trimmed = ShippingSettings {
            sender_name: s.sender_name.trim().into(),
            sender_phone: s.sender_phone.trim().into(),
            sender_postal_code: s.sender_postal_code.trim().into(),
            sender_address1: s.sender_address1.trim().into(),
            sender_address2: s.sender_address2.trim().into(),
            yamato_customer_code: s.yamato_customer_code.trim().into(),
            yamato_class_code: s.yamato_class_code.trim().into(),
            yamato_freight_number: s.yamato_freight_number.trim().into(),
            sagawa_customer_code: s.sagawa_customer_code.trim().into(),
            default_item_name: s.default_item_name.trim().into(),
        };
        trimmed.validate()?;
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(SETTINGS_KEY)
        .bind(serde_json::to_string(&trimmed).map_err(|e| StoreError::Other(e.to_string()))?)
        .execute(&self.pool)
        .await?;
        Ok(trimmed)
    }

    pub async fn shipment_import_formats(&self) -> Result<Vec<ImportFormat>, StoreError> {
        let rows =
            sqlx::query("SELECT id, name, layout_json FROM shipment_import_formats ORDER BY id")
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(format_from_row).collect()
    }

    pub async fn shipment_import_format(&self, id: i64) -> Result<ImportFormat, StoreError> {
        let row =
            sqlx::query("SELECT id, name, layout_json FROM shipment_import_formats WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?
                .ok_or(StoreError::NotFound("取り込み形式"))?;
        format_from_row(&row)
    }

    /// Saves a new format (`id` None) or changes one.
    pub async fn save_shipment_import_format(
        &self,
        id: Option<i64>,
        input: &ImportFormatInput,
    ) -> Result<ImportFormat, StoreError> {
        let mut errors = FieldErrors::default();
        let layout = input.layout(&mut errors);
        errors.into_result()?;
        let json = serde_json::to_string(&layout).map_err(|e| StoreError::Other(e.to_string()))?;
        let now = self.clock.now_text();
        let id = match id {
            None => get_i64(
                &sqlx::query(
                    "INSERT INTO shipment_import_formats (name, layout_json, created_at, updated_at) VALUES ($1, $2, $3, $3) RETURNING id",
                )
                .bind(input.name.trim().to_string())
                .bind(json)
                .bind(now)
                .fetch_one(&self.pool)
                .await?,
                "id",
            )?,
            Some(id) => {
                let n = sqlx::query(
                    "UPDATE shipment_import_formats SET name = $1, layout_json = $2, updated_at = $3 WHERE id = $4",
                )
                .bind(input.name.trim().to_string())
                .bind(json)
                .bind(now)
                .bind(id)
                .execute(&self.pool)
                .await?
                .rows_affected();
                if n == 0 {
                    return Err(StoreError::NotFound("取り込み形式"));
                }
                id
            }
        };
        self.shipment_import_format(id).await
    }

    pub async fn delete_shipment_import_format(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM shipment_import_formats WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The layout an import `format` names: a built-in one
    /// (`standard`, `yamato_b2`, `sagawa_ehiden3`, `japanpost_yupri`) or a
    /// saved one by id (`3` or `saved:3`).
    pub async fn import_layout(&self, format: &str) -> Result<Layout, StoreError> {
        if let Some(l) = Layout::builtin(format) {
            return Ok(l);
        }
        let unknown = || {
            StoreError::from(FieldErrors::single(
                "format",
                "unknown_format",
                format!(
                    "取り込み形式「{format}」はありません（standard・yamato_b2・sagawa_ehiden3・japanpost_yupri か保存した形式のID）"
                ),
            ))
        };
        let id: i64 = format
            .strip_prefix("saved:")
            .unwrap_or(format)
            .parse()
            .map_err(|_| unknown())?;
        match self.shipment_import_format(id).await {
            Ok(f) => Ok(f.layout),
            Err(StoreError::NotFound(_)) => Err(unknown()),
            Err(e) => Err(e),
        }
    }
}

fn format_from_row(r: &sqlx::any::AnyRow) -> Result<ImportFormat, StoreError> {
    Ok(ImportFormat {
        id: get_i64(r, "id")?,
        name: get_str(r, "name")?,
        layout: serde_json::from_str(&get_str(r, "layout_json")?)
            .map_err(|e| StoreError::Other(format!("取り込み形式を読めません: {e}")))?,
    })
}
