//! The OpenAPI document, generated from the handlers' annotations.

use crate::dto;
use crate::{
    automation, blacklist, customers, documents, jobs, mail, masters, orders, payments, staff,
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
    paths(
        orders::api::list_orders, orders::api::create_order, orders::api::get_order, orders::api::patch_order, orders::api::order_history,
        customers::api::list_customers, customers::api::create_customer, customers::api::get_customer, customers::api::patch_customer,
        masters::api::list_products, masters::api::create_product, masters::api::get_product, masters::api::put_product,
        masters::api::list_handling_statuses, masters::api::create_handling_status, masters::api::put_handling_status,
        masters::api::list_payment_methods, masters::api::create_payment_method, masters::api::put_payment_method,
        masters::api::list_carriers, masters::api::create_carrier, masters::api::put_carrier,
        masters::api::list_labels, masters::api::create_label, masters::api::put_label,
        staff::api::create_api_token,
        subscriptions::api::list_subscriptions, subscriptions::api::get_subscription,
        subscriptions::api::patch_subscription, subscriptions::api::skip, subscriptions::api::pause,
        subscriptions::api::recalculate, subscriptions::api::create_order_now,
        subscriptions::api::subscription_orders, subscriptions::api::subscription_history,
        subscriptions::api::reasons,
        automation::api::list_rules, automation::api::create_rule, automation::api::put_rule,
        automation::api::delete_rule, automation::api::load_presets, automation::api::dry_run,
        mail::api::list_templates, mail::api::put_template, mail::api::order_mails,
        mail::api::preview, mail::api::get_shop_settings, mail::api::put_shop_settings,
        blacklist::api::list_conditions, blacklist::api::create_condition, blacklist::api::put_condition,
        blacklist::api::delete_condition, blacklist::api::rescan,
        blacklist::api::list_reasons, blacklist::api::create_reason, blacklist::api::delete_reason,
        jobs::api::create_job, jobs::api::list_jobs, jobs::api::get_job, jobs::api::cancel_job,
        jobs::api::job_items, jobs::api::job_result, jobs::api::csv_columns, jobs::api::list_csv_formats,
        jobs::api::create_csv_format, jobs::api::put_csv_format, jobs::api::delete_csv_format,
        jobs::api::import_csv_format,
        documents::api::list_document_formats, documents::api::create_document_format,
        documents::api::put_document_format, documents::api::delete_document_format,
        mail::api::put_shop_logo, mail::api::get_shop_logo, mail::api::delete_shop_logo,
        payments::api::request_payment, payments::api::list_payment_requests, payments::api::payment_notification,
    ),
    components(schemas(
        dto::OrderJson, dto::OrderListJson, dto::CreateOrderBody, dto::PatchOrderBody, dto::AddressJson, dto::ItemJson, dto::ItemInputJson,
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

pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
