//! 帳票 (納品書 / 請求書 / 領収書): what every PDF needs from the store — the
//! issuer from ショップ情報 and the shop's format — and one order's document
//! printed at once from its page (PDF一括出力 does many, as a job).

use crate::StoreError;
use crate::db::Store;
use juchu_domain::FieldErrors;
use juchu_domain::document::{DocumentFormat, DocumentKind, Issuer, document_of};

impl Store {
    /// The issuer and format of a document, checked as printing needs them: a
    /// qualified invoice needs the registration number, and a format must still
    /// be of the kind asked for (it may have changed since a job was made).
    pub(crate) async fn document_setup(
        &self,
        kind: DocumentKind,
        format_id: Option<i64>,
    ) -> Result<(Issuer, DocumentFormat), StoreError> {
        let shop = self.shop_settings().await?;
        if kind.is_qualified_invoice() && shop.registration_number.is_empty() {
            return Err(FieldErrors::single(
                "document",
                "registration_number_missing",
                format!(
                    "{}（適格請求書）には登録番号（T+13桁）が必要です。ショップ情報で設定してください",
                    kind.label()
                ),
            )
            .into());
        }
        let format = match format_id {
            None => DocumentFormat::standard(kind),
            Some(id) => match self.document_format(id).await {
                Ok(f) => f,
                Err(StoreError::NotFound(_)) => {
                    return Err(FieldErrors::single(
                        "format_id",
                        "not_found",
                        format!("帳票フォーマット {id} が削除されています"),
                    )
                    .into());
                }
                Err(e) => return Err(e),
            },
        };
        if format.kind != kind {
            return Err(FieldErrors::single(
                "format_id",
                "wrong_kind",
                format!(
                    "帳票フォーマット「{}」は{}用です（{}を印刷しようとしています）",
                    format.name,
                    format.kind.label(),
                    kind.label()
                ),
            )
            .into());
        }
        Ok((Issuer::of(&shop), format))
    }

    /// One order's document as a PDF, now (the order page's 印刷): the same
    /// layout, font and logo as PDF一括出力. Printing does not change the order.
    pub async fn order_document_pdf(
        &self,
        order_number: &str,
        kind: DocumentKind,
        format_id: Option<i64>,
    ) -> Result<Vec<u8>, StoreError> {
        let font = juchu_docs::DocumentFont::find().map_err(StoreError::Other)?;
        let (issuer, format) = self.document_setup(kind, format_id).await?;
        let order = self.order_by_number(order_number).await?;
        let masters = self.masters().await?;
        let issue_date = self.clock.today().to_string();
        let doc = document_of(&order, &masters, &format, &issue_date, &issuer);
        let logo = self.shop_logo().await?.map(|(_, bytes)| bytes);
        tokio::task::spawn_blocking(move || {
            juchu_docs::Renderer::with_logo(&font, logo.as_deref()).render(&issuer, &[doc])
        })
        .await
        .map_err(|e| StoreError::Other(format!("帳票の作成が中断されました: {e}")))?
        .map_err(StoreError::Other)
    }
}
