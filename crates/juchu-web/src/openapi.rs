//! The OpenAPI document, generated from the handlers' annotations.

use crate::api::{self, dto};
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
    paths(
        api::list_orders, api::create_order, api::get_order, api::patch_order, api::order_history,
        api::list_customers, api::create_customer, api::get_customer, api::patch_customer,
        api::list_products, api::create_product, api::get_product, api::put_product,
        api::list_handling_statuses, api::create_handling_status, api::put_handling_status,
        api::list_payment_methods, api::create_payment_method, api::put_payment_method,
        api::list_carriers, api::create_carrier, api::put_carrier,
        api::list_labels, api::create_label, api::put_label,
        api::create_api_token,
        api::subscriptions::list_subscriptions, api::subscriptions::get_subscription,
        api::subscriptions::patch_subscription, api::subscriptions::skip, api::subscriptions::pause,
        api::subscriptions::recalculate, api::subscriptions::create_order_now,
        api::subscriptions::subscription_orders, api::subscriptions::subscription_history,
        api::subscriptions::reasons,
        api::automation::list_rules, api::automation::create_rule, api::automation::put_rule,
        api::automation::delete_rule, api::automation::load_presets, api::automation::dry_run,
        api::mail::list_templates, api::mail::put_template, api::mail::order_mails,
        api::mail::preview, api::mail::get_shop_settings, api::mail::put_shop_settings,
        api::blacklist::list_conditions, api::blacklist::create_condition, api::blacklist::put_condition,
        api::blacklist::delete_condition, api::blacklist::rescan,
        api::blacklist::list_reasons, api::blacklist::create_reason, api::blacklist::delete_reason,
        api::jobs::create_job, api::jobs::list_jobs, api::jobs::get_job, api::jobs::cancel_job,
        api::jobs::job_items, api::jobs::job_result, api::jobs::csv_columns, api::jobs::list_csv_formats,
        api::jobs::create_csv_format, api::jobs::put_csv_format, api::jobs::delete_csv_format,
        api::jobs::import_csv_format,
        api::documents::list_document_formats, api::documents::create_document_format,
        api::documents::put_document_format, api::documents::delete_document_format,
        api::mail::put_shop_logo, api::mail::get_shop_logo, api::mail::delete_shop_logo,
        api::payments::request_payment, api::payments::list_payment_requests, api::payments::payment_notification,
    ),
    components(schemas(
        dto::OrderJson, dto::OrderListJson, dto::CreateOrderBody, dto::PatchOrderBody, dto::AddressJson, dto::ItemJson, dto::ItemInputJson,
        dto::HistoryJson, dto::CustomerJson, dto::CustomerBody, dto::ProductJson, dto::HandlingStatusJson, dto::PaymentMethodJson,
        dto::CarrierJson, dto::LabelJson, api::CustomerPatchBody, api::ProductBody, api::HandlingStatusBody, api::ApiTokenBody, api::ApiTokenJson,
        crate::error::ErrorBody, crate::error::FieldErrorBody,
        api::subscriptions::SubscriptionJson, api::subscriptions::SubscriptionListJson,
        api::subscriptions::SubscriptionItemJson, api::subscriptions::CalendarEntryJson,
        api::subscriptions::PatchSubscriptionBody, api::subscriptions::OperationBody,
        api::subscriptions::PauseBody, api::subscriptions::SubscriptionReasonsJson,
        api::automation::RuleJson, api::automation::RuleBody, api::automation::PresetReportJson,
        api::automation::SkippedJson, api::automation::DryRunBody, api::automation::DryRunJson,
        api::mail::MailTemplateJson, api::mail::MailTemplateBody, api::mail::QueuedMailJson,
        api::payments::PaymentRequestBody, api::payments::PaymentRequestJson, api::payments::PaymentRequestsJson,
        api::payments::PaymentNotificationBody,
        api::mail::PreviewBody, api::mail::PreviewJson, api::mail::ShopSettingsJson,
        api::blacklist::BlacklistConditionJson, api::blacklist::BlacklistConditionBody, dto::AttentionMatchJson,
        api::blacklist::RescanBody, api::blacklist::RescanJson,
        api::blacklist::BlacklistReasonJson, api::blacklist::BlacklistReasonBody,
        api::documents::DocumentFormatBody, api::documents::DocumentFormatJson,
        api::jobs::JobKindName, api::jobs::SelectionBody, api::jobs::JobBody, api::jobs::JobJson,
        api::jobs::FailureJson, api::jobs::JobPreviewJson, api::jobs::JobItemJson,
        api::jobs::CsvFormatBody, api::jobs::CsvFormatJson, api::jobs::CsvColumnJson,
    )),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
