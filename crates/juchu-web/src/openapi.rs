//! The OpenAPI document, generated from the handlers' annotations: the paths
//! come from the API router (`api_routes` in lib.rs), the rest is here.

use crate::dto;
use crate::{
    automation, blacklist, customers, documents, jobs, mail, masters, payments, staff,
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
        dto::CarrierJson, dto::LabelJson, customers::api::CustomerPatchBody, masters::api::ProductBody, masters::api::HandlingStatusBody, staff::api::ApiTokenBody, staff::api::ApiTokenJson,
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
    crate::api_routes().split_for_parts().1
}

pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(openapi())
}
