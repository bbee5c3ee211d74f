//! The OpenAPI document, generated from the handlers' annotations: the paths
//! come from the API router (`api_routes` in lib.rs), the rest is here.

use crate::dto;
use crate::{
    automation, blacklist, customers, documents, jobs, mail, masters, payments, staff, stock,
    subscriptions,
};
use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(c) = openapi.components.as_mut() {
            c.add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "juchu API", description = "Order management for Japanese D2C and subscription shops. Money is integer yen (tax included); dates are YYYY-MM-DD; timestamps RFC 3339 UTC. Errors are {code, message, field}."),
    components(schemas(
        dto::OrderJson, dto::OrderListJson, dto::CreateOrderBody, dto::PatchOrderBody, dto::AddressJson, dto::ItemJson, dto::ItemInputJson,
        dto::ShipmentJson, dto::ShipmentItemJson, dto::ShipmentPatchJson, dto::SplitShipmentJson, dto::SplitItemJson,
        dto::HistoryJson, dto::CustomerJson, dto::CustomerBody, dto::ProductJson, dto::HandlingStatusJson, dto::PaymentMethodJson,
        dto::CarrierJson, dto::LabelJson, customers::api::CustomerPatchBody, masters::api::ProductBody, masters::api::HandlingStatusBody, staff::api::ApiTokenBody, staff::api::ApiTokenJson, stock::api::StockJson, stock::api::StockBody,
        crate::error::ErrorBody, crate::error::FieldErrorBody,
        subscriptions::api::SubscriptionJson, subscriptions::api::SubscriptionListJson,
        subscriptions::api::SubscriptionItemJson, subscriptions::api::CalendarEntryJson,
        subscriptions::api::PatchSubscriptionBody, subscriptions::api::OperationBody,
        subscriptions::api::PauseBody, subscriptions::api::SubscriptionReasonsJson,
        automation::api::RuleJson, automation::api::RuleBody, automation::api::PresetReportJson,
        automation::api::SkippedJson, automation::api::DryRunBody, automation::api::DryRunJson,
        mail::api::MailTemplateJson, mail::api::MailTemplateBody, mail::api::QueuedMailJson,
        payments::api::PaymentRequestBody, payments::api::PaymentRequestJson, payments::api::PaymentRequestsJson,
        payments::api::PaymentNotificationBody,
        mail::api::PreviewBody, mail::api::PreviewJson, mail::api::ShopSettingsJson,
        blacklist::api::BlacklistConditionJson, blacklist::api::BlacklistConditionBody, dto::AttentionMatchJson,
        blacklist::api::RescanBody, blacklist::api::RescanJson,
        blacklist::api::BlacklistReasonJson, blacklist::api::BlacklistReasonBody,
        documents::api::DocumentFormatBody, documents::api::DocumentFormatJson,
        jobs::api::JobKindName, jobs::api::SelectionBody, jobs::api::JobBody, jobs::api::JobJson,
        jobs::api::FailureJson, jobs::api::JobPreviewJson, jobs::api::JobItemJson,
        jobs::api::CsvFormatBody, jobs::api::CsvFormatJson, jobs::api::CsvColumnJson,
    )),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

/// The whole document: [`ApiDoc`] (info, shared schemas, security) with the
/// paths the API router registered ([`crate::api_routes`]).
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = crate::api_routes().split_for_parts().1;
    for (path, item) in doc.paths.paths.iter_mut() {
        let has_params = path.contains('{');
        for op in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            add_common_responses(op, has_params);
        }
    }
    doc
}

/// The answers every operation can give besides its own: the checks before a
/// handler runs (credentials, role, content type, NUL characters, JSON
/// syntax) and an internal error. An operation's own description of a status
/// wins.
fn add_common_responses(op: &mut utoipa::openapi::path::Operation, has_params: bool) {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    let body = op.request_body.is_some();
    let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let mut add = |code: &str, description: &str| {
        op.responses
            .responses
            .entry(code.to_string())
            .or_insert_with(|| {
                RefOr::T(
                    ResponseBuilder::new()
                        .description(description)
                        .content(
                            "application/json",
                            ContentBuilder::new()
                                .schema(Some(Ref::from_schema_name("ErrorBody")))
                                .build(),
                        )
                        .build(),
                )
            });
    };
    if secured {
        add(
            "401",
            "認証が必要です（トークンがない、無効、失効、期限切れ）",
        );
        add("403", "このトークンの権限ではできない操作です");
    }
    if has_params {
        add("404", "対象が見つかりません");
    }
    if body {
        add("400", "本文が JSON として読めません");
        add(
            "415",
            "Content-Type がこの操作の受け付けるものではありません",
        );
    }
    add(
        "422",
        "入力の誤り（field が項目を指します。NUL 文字を含む値もここで断ります）",
    );
    add("500", "内部エラー");
}

pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(openapi())
}
