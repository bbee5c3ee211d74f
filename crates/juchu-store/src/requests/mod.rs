//! 申請 (seed 004): forms a shop designs (フォーム管理), requests as they come
//! in from every channel, and the customer's intents kept as evidence
//! (特商法: what was asked, what was offered, what was withdrawn).
//!
//! Handling requests (受信BOX, automation) builds on this; here a request is
//! received, validated as the seed's field scheme says, and stored whole or
//! not at all.

pub mod analytics;
pub mod links;
pub mod rules;

use crate::StoreError;
use crate::db::{Store, Tx, get_i64, get_opt_i64, get_str};
use crate::history::Actor;
use juchu_domain::FieldErrors;
use juchu_domain::request::{
    Answer, CANCEL, Channel, Offer, RequestForm, RequestStatus, Submission, check_against_form,
    check_form, read_fields,
};

/// A request as its events carry it.
pub fn request_summary(r: &Request) -> serde_json::Value {
    serde_json::json!({
        "id": r.id,
        "form_id": r.form_id,
        "customer_id": r.customer_id,
        "subscription_id": r.subscription_id,
        "request_type": r.request_type,
        "status": r.status.code(),
        "status_reason": r.status_reason,
        "channel": r.channel.code(),
        "answers": r.answers,
        "received_at": r.received_at,
        "completed_at": r.completed_at,
        "handled_by": r.handled_by,
        "rule_id": r.rule_id,
    })
}

/// A request as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub id: i64,
    pub form_id: Option<i64>,
    pub customer_id: i64,
    pub subscription_id: Option<i64>,
    /// 申請種別 (col_1 as sent; an accepted offer's type).
    pub request_type: String,
    pub status: RequestStatus,
    pub status_reason: String,
    pub channel: Channel,
    /// In display order.
    pub answers: Vec<Answer>,
    /// The 解約抑止 offer accepted instead of a cancellation.
    pub offer: Option<Offer>,
    pub tags: Vec<String>,
    pub received_at: String,
    pub updated_at: String,
    /// 担当オペレーター (a staff user).
    pub operator_id: Option<i64>,
    pub memo: String,
    /// 対応完了日時: when it was completed, refused or failed.
    pub completed_at: Option<String>,
    /// `auto` (a rule acted), `manual`, or empty.
    pub handled_by: String,
    pub rule_id: Option<i64>,
    /// col_4 as sent.
    pub product: String,
    /// The pause (col_2) or cycle-change (col_3) period as read.
    pub period: String,
    /// `pending`: the automation has not looked at it yet.
    pub auto_state: String,
}

impl Request {
    /// An answer by field name.
    pub fn answer(&self, name: &str) -> Option<String> {
        self.answers
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.value.clone())
    }
}

/// A request as it arrives.
#[derive(Debug, Clone, Default)]
pub struct NewRequest {
    pub customer_id: i64,
    pub subscription_id: Option<i64>,
    /// The form it was filled in on (its questions are checked).
    pub form_id: Option<i64>,
    pub channel: Option<Channel>,
    /// The fields as sent, in order (a repeated name: the later wins).
    pub fields: Vec<(String, String)>,
    /// The form's one-time token: the same form posted twice is one request.
    pub form_token: Option<String>,
    /// 解約抑止: the offer accepted instead of the 解約 the fields ask for.
    pub offer: Option<Offer>,
}

/// Search of requests (受信BOX filters; keyset on id, newest first).
#[derive(Debug, Clone, Default)]
pub struct RequestQuery {
    pub customer_id: Option<i64>,
    pub subscription_id: Option<i64>,
    pub status: Option<RequestStatus>,
    pub request_type: Option<String>,
    /// col_4, exact.
    pub product: Option<String>,
    /// 受付日時 from / to (Japan dates, inclusive).
    pub received_from: Option<jiff::civil::Date>,
    pub received_to: Option<jiff::civil::Date>,
    /// 対応完了日時 from / to (Japan dates, inclusive).
    pub completed_from: Option<jiff::civil::Date>,
    pub completed_to: Option<jiff::civil::Date>,
    pub operator_id: Option<i64>,
    pub tag: Option<String>,
    /// Only requests with an id below this (the next page).
    pub before_id: Option<i64>,
    pub limit: i64,
    /// `after` / `updated_since` (integrations): oldest first by key instead.
    pub keyset: crate::db::keyset::Keyset,
}

/// The stored text of a Japan day's first moment.
pub(crate) fn day_start(d: jiff::civil::Date) -> String {
    juchu_domain::time::format_ts(juchu_domain::time::japan_day_start(d))
}

/// The stored text of the moment after a Japan day (an exclusive bound).
pub(crate) fn day_after(d: jiff::civil::Date) -> String {
    day_start(d.tomorrow().unwrap_or(d))
}

impl RequestQuery {
    /// The WHERE clause and its arguments (status left out with `with_status`
    /// false: the counts per status use the rest).
    pub(crate) fn filter(&self, with_status: bool) -> (String, Vec<crate::db::Arg>) {
        self.filter_as(with_status, "")
    }

    /// [`RequestQuery::filter`] with the columns qualified (`r.`) for a join.
    pub(crate) fn filter_as(
        &self,
        with_status: bool,
        table: &str,
    ) -> (String, Vec<crate::db::Arg>) {
        let mut clauses: Vec<String> = Vec::new();
        let mut args: Vec<crate::db::Arg> = Vec::new();
        fn push(
            clauses: &mut Vec<String>,
            args: &mut Vec<crate::db::Arg>,
            clause: &str,
            arg: crate::db::Arg,
        ) {
            args.push(arg);
            clauses.push(clause.replace("$?", &format!("${}", args.len())));
        }
        if let Some(c) = self.customer_id {
            push(
                &mut clauses,
                &mut args,
                &format!("{table}customer_id = $?"),
                c.into(),
            );
        }
        if let Some(s) = self.subscription_id {
            push(
                &mut clauses,
                &mut args,
                &format!("{table}subscription_id = $?"),
                s.into(),
            );
        }
        if with_status && let Some(s) = self.status {
            push(
                &mut clauses,
                &mut args,
                &format!("{table}status = $?"),
                s.code().into(),
            );
        }
        if let Some(t) = &self.request_type {
            push(
                &mut clauses,
                &mut args,
                &format!("{table}request_type = $?"),
                t.as_str().into(),
            );
        }
        if let Some(p) = &self.product {
            push(
                &mut clauses,
                &mut args,
                &format!("{table}product = $?"),
                p.trim().into(),
            );
        }
        // Times are stored as UTC text (ISO 8601): a Japan date range is a
        // text range from that day's start in Japan, and the index serves it.
        if let Some(d) = self.received_from {
            push(
                &mut clauses,
                &mut args,
                &format!("{table}received_at >= $?"),
                day_start(d).into(),
            );
        }
        if let Some(d) = self.received_to {
            push(
                &mut clauses,
                &mut args,
                &format!("{table}received_at < $?"),
                day_after(d).into(),
            );
        }
        if let Some(d) = self.completed_from {
            push(
                &mut clauses,
                &mut args,
                &format!("{table}completed_at >= $?"),
                day_start(d).into(),
            );
        }
        if let Some(d) = self.completed_to {
            push(
                &mut clauses,
                &mut args,
                &format!("{table}completed_at < $?"),
                day_after(d).into(),
            );
        }
        if let Some(o) = self.operator_id {
            push(
                &mut clauses,
                &mut args,
                &format!("{table}operator_id = $?"),
                o.into(),
            );
        }
        if let Some(t) = &self.tag {
            // Tags are kept one per line: the tag between two line breaks.
            let escaped = juchu_domain::normalize::like_prefix(t.trim());
            let pattern = format!("%\n{}\n%", &escaped[..escaped.len() - 1]);
            let n = args.len();
            args.extend(["\n".into(), "\n".into(), pattern.into()]);
            clauses.push(format!(
                "(${} || {table}tags || ${}) LIKE ${} ESCAPE '\\'",
                n + 1,
                n + 2,
                n + 3
            ));
        }
        if let Some(b) = self.before_id {
            push(
                &mut clauses,
                &mut args,
                &format!("{table}id < $?"),
                b.into(),
            );
        }
        let filter = if clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", clauses.join(" AND "))
        };
        (filter, args)
    }
}

/// A subscription's current dates, shown beside its requests in 受信BOX.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionDates {
    pub status: String,
    pub next_delivery: String,
    pub next_ship: String,
    pub previous_delivery: Option<String>,
    /// 定期回数.
    pub count: i64,
}

/// One intent a customer expressed (特商法 evidence), kept with its time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    pub at: String,
    /// `submitted`, `cancel_submitted`, `offer_shown`, `offer_accepted`,
    /// `withdrawn`.
    pub kind: String,
    pub detail: String,
    pub channel: String,
    pub subscription_id: Option<i64>,
    pub request_id: Option<i64>,
}

impl Intent {
    pub fn label(&self) -> &'static str {
        match self.kind.as_str() {
            "submitted" => "申請を送信",
            "cancel_submitted" => "解約を申請",
            "offer_shown" => "解約抑止のご提案を表示",
            "offer_accepted" => "ご提案を選択",
            "withdrawn" => "解約を取り下げ",
            _ => "その他",
        }
    }
}

/// One line of a request's 履歴.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHistoryEntry {
    pub at: String,
    pub actor: String,
    pub what: String,
}

pub(crate) const REQUEST_COLUMNS: &str = "id, form_id, customer_id, subscription_id, request_type, status, status_reason, channel, answers, offer, tags, received_at, updated_at, operator_id, memo, completed_at, handled_by, rule_id, product, period, auto_state";

pub(crate) fn request_from_row(r: &sqlx::any::AnyRow) -> Result<Request, StoreError> {
    let status = get_str(r, "status")?;
    let channel = get_str(r, "channel")?;
    let answers = get_str(r, "answers")?;
    let offer = get_str(r, "offer")?;
    let tags = get_str(r, "tags")?;
    Ok(Request {
        id: get_i64(r, "id")?,
        form_id: get_opt_i64(r, "form_id")?,
        customer_id: get_i64(r, "customer_id")?,
        subscription_id: get_opt_i64(r, "subscription_id")?,
        request_type: get_str(r, "request_type")?,
        status: RequestStatus::parse(&status)
            .ok_or_else(|| StoreError::Other(format!("unknown request status {status:?}")))?,
        status_reason: get_str(r, "status_reason")?,
        channel: Channel::parse(&channel)
            .ok_or_else(|| StoreError::Other(format!("unknown request channel {channel:?}")))?,
        answers: serde_json::from_str(&answers)
            .map_err(|e| StoreError::Other(format!("request answers: {e}")))?,
        offer: Offer::parse(&offer),
        tags: tags
            .split('\n')
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect(),
        received_at: get_str(r, "received_at")?,
        updated_at: get_str(r, "updated_at")?,
        operator_id: get_opt_i64(r, "operator_id")?,
        memo: get_str(r, "memo")?,
        completed_at: crate::db::get_opt_str(r, "completed_at")?,
        handled_by: get_str(r, "handled_by")?,
        rule_id: get_opt_i64(r, "rule_id")?,
        product: get_str(r, "product")?,
        period: get_str(r, "period")?,
        auto_state: get_str(r, "auto_state")?,
    })
}

fn form_from_row(r: &sqlx::any::AnyRow) -> Result<RequestForm, StoreError> {
    let bad = |e: serde_json::Error| StoreError::Other(format!("request form: {e}"));
    let offers: Vec<String> = serde_json::from_str(&get_str(r, "offers")?).map_err(bad)?;
    Ok(RequestForm {
        id: get_i64(r, "id")?,
        name: get_str(r, "name")?,
        questions: serde_json::from_str(&get_str(r, "questions")?).map_err(bad)?,
        offers: offers.iter().filter_map(|o| Offer::parse(o)).collect(),
        discount_text: get_str(r, "discount_text")?,
        retention_tag: get_str(r, "retention_tag")?,
    })
}

pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Other(e.to_string()))
}

/// Writes a new form (the default one at first start, a copy, a new design).
pub(crate) async fn insert_form(
    tx: &mut Tx,
    form: &RequestForm,
    now: &str,
) -> Result<i64, StoreError> {
    let offers: Vec<&str> = form.offers.iter().map(|o| o.code()).collect();
    let row = sqlx::query(
        "INSERT INTO request_forms (name, questions, offers, discount_text, retention_tag, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
    )
    .bind(form.name.trim().to_string())
    .bind(to_json(&form.questions)?)
    .bind(to_json(&offers)?)
    .bind(form.discount_text.trim().to_string())
    .bind(form.retention_tag.trim().to_string())
    .bind(now.to_string())
    .fetch_one(&mut **tx)
    .await?;
    Ok(get_i64(&row, "id")?)
}

impl Store {
    pub async fn request_forms(&self) -> Result<Vec<RequestForm>, StoreError> {
        let rows = sqlx::query("SELECT * FROM request_forms ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(form_from_row).collect()
    }

    pub async fn request_form(&self, id: i64) -> Result<RequestForm, StoreError> {
        let row = sqlx::query("SELECT * FROM request_forms WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound("申請フォーム"))?;
        form_from_row(&row)
    }

    /// Creates (`form.id == 0`) or replaces a form after checking its design.
    pub async fn save_request_form(&self, form: &RequestForm) -> Result<RequestForm, StoreError> {
        let mut form = form.clone();
        for q in &mut form.questions {
            q.field = q.field.trim().to_string();
            q.label = q.label.trim().to_string();
            q.choices = q
                .choices
                .iter()
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .collect();
        }
        check_form(&form)?;
        let now = self.clock.now_text();
        let mut tx = self.begin().await?;
        if form.id == 0 {
            form.id = insert_form(&mut tx, &form, &now).await?;
        } else {
            let offers: Vec<&str> = form.offers.iter().map(|o| o.code()).collect();
            let done = sqlx::query(
                "UPDATE request_forms SET name = $1, questions = $2, offers = $3, discount_text = $4, retention_tag = $5, updated_at = $6 WHERE id = $7",
            )
            .bind(form.name.trim().to_string())
            .bind(to_json(&form.questions)?)
            .bind(to_json(&offers)?)
            .bind(form.discount_text.trim().to_string())
            .bind(form.retention_tag.trim().to_string())
            .bind(now)
            .bind(form.id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound("申請フォーム"));
            }
        }
        tx.commit().await?;
        Ok(form)
    }

    /// 複製: a new form with the same questions and offers, named 「… のコピー」.
    pub async fn copy_request_form(&self, id: i64) -> Result<RequestForm, StoreError> {
        let mut form = self.request_form(id).await?;
        form.id = 0;
        form.name = format!("{} のコピー", form.name);
        if form.name.chars().count() > 100 {
            form.name = form.name.chars().take(100).collect();
        }
        self.save_request_form(&form).await
    }

    /// Receives a request: checks the fields as the seed's scheme says (and
    /// against the form's questions when it came through a form), checks the
    /// customer owns the subscription, and stores the request with its
    /// 履歴 and the customer's intents in one transaction. A form token seen
    /// before returns the request it made (`false`: nothing new was stored).
    pub async fn receive_request(
        &self,
        new: &NewRequest,
        actor: &Actor,
    ) -> Result<(Request, bool), StoreError> {
        if let Some(token) = &new.form_token
            && let Some(existing) = self.request_by_form_token(token).await?
        {
            return same_customer(existing, new.customer_id).map(|r| (r, false));
        }
        let mut e = FieldErrors::default();
        if let Some(t) = &new.form_token {
            juchu_domain::text::check_len(&mut e, "form_token", t, 100);
        }
        e.into_result()?;
        let form = match new.form_id {
            Some(id) => Some(self.request_form(id).await.map_err(|err| {
                match err {
                    StoreError::NotFound(_) => FieldErrors::single(
                        "form_id",
                        "unknown_form",
                        format!("申請フォーム {id} はありません"),
                    )
                    .into(),
                    other => other,
                }
            })?),
            None => None,
        };
        let asked = read_fields(&new.fields)?;
        if let Some(f) = &form {
            check_against_form(f, &asked)?;
        }
        let kept = match new.offer {
            None => asked.clone(),
            Some(offer) => {
                if asked.request_type != CANCEL {
                    return Err(FieldErrors::single(
                        "offer",
                        "not_a_cancellation",
                        "解約抑止のご提案は解約の申請にだけ選べます",
                    )
                    .into());
                }
                if !form.as_ref().is_some_and(|f| f.offers.contains(&offer)) {
                    return Err(FieldErrors::single(
                        "offer",
                        "unknown_offer",
                        "このフォームにないご提案です",
                    )
                    .into());
                }
                // The request becomes the offer's type; the cancellation's own
                // answers are kept in the intents.
                let mut fields: Vec<(String, String)> = new
                    .fields
                    .iter()
                    .filter(|(k, _)| !k.trim().starts_with("cancell_col_"))
                    .cloned()
                    .collect();
                fields.push(("col_1".into(), offer.request_type().into()));
                read_fields(&fields)?
            }
        };
        let channel = new.channel.unwrap_or(Channel::Api);
        let now = self.clock.now_text();
        let mut tx = self.begin().await?;
        let customer = sqlx::query("SELECT id FROM customers WHERE id = $1")
            .bind(new.customer_id)
            .fetch_optional(&mut *tx)
            .await?;
        if customer.is_none() {
            return Err(FieldErrors::single(
                "customer_id",
                "unknown_customer",
                format!("顧客 {} はありません", new.customer_id),
            )
            .into());
        }
        if let Some(sub) = new.subscription_id {
            let row = sqlx::query("SELECT customer_id FROM subscriptions WHERE id = $1")
                .bind(sub)
                .fetch_optional(&mut *tx)
                .await?;
            let owner = row.map(|r| get_opt_i64(&r, "customer_id")).transpose()?;
            if owner.flatten() != Some(new.customer_id) {
                return Err(FieldErrors::single(
                    "subscription_id",
                    "not_this_customers",
                    format!("定期受注 {sub} はこの顧客の定期受注ではありません"),
                )
                .into());
            }
        }
        let tags = match (new.offer, &form) {
            (Some(_), Some(f)) if !f.retention_tag.trim().is_empty() => {
                f.retention_tag.trim().to_string()
            }
            _ => String::new(),
        };
        let (product, period) = analytics_columns(&kept);
        let inserted = sqlx::query(sqlx::AssertSqlSafe(
            "INSERT INTO requests (form_id, customer_id, subscription_id, request_type, status, channel, answers, offer, tags, form_token, received_at, updated_at, product, period) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, $13) RETURNING id".to_string(),
        ))
        .bind(new.form_id)
        .bind(new.customer_id)
        .bind(new.subscription_id)
        .bind(kept.request_type.clone())
        .bind(RequestStatus::Open.code())
        .bind(channel.code())
        .bind(to_json(&kept.answers)?)
        .bind(new.offer.map(|o| o.code()).unwrap_or(""))
        .bind(tags.clone())
        .bind(new.form_token.clone())
        .bind(now.clone())
        .bind(product)
        .bind(period)
        .fetch_one(&mut *tx)
        .await;
        let id = match inserted {
            Ok(r) => get_i64(&r, "id")?,
            // The same form posted twice at once: the other post stored it.
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                drop(tx);
                let token = new.form_token.clone().unwrap_or_default();
                let existing = self
                    .request_by_form_token(&token)
                    .await?
                    .ok_or(StoreError::NotFound("申請"))?;
                return same_customer(existing, new.customer_id).map(|r| (r, false));
            }
            Err(e) => return Err(e.into()),
        };
        let received = format!(
            "受付（{}）: {}",
            channel.label(),
            if kept.request_type.is_empty() {
                "申請種別なし"
            } else {
                &kept.request_type
            }
        );
        add_history(&mut tx, id, actor, &received, &now).await?;
        write_answers(&mut tx, id, &kept.answers).await?;
        let received_event = juchu_domain::webhook::request_event(
            "request.received",
            serde_json::json!({
                "id": id,
                "form_id": new.form_id,
                "customer_id": new.customer_id,
                "subscription_id": new.subscription_id,
                "request_type": kept.request_type,
                "status": RequestStatus::Open.code(),
                "channel": channel.code(),
                "answers": kept.answers,
                "received_at": now,
            }),
        );
        crate::db::write_rows(
            &mut tx,
            self.backend,
            vec![crate::webhooks::event_rows(&[received_event], &now)],
        )
        .await?;
        if !tags.is_empty() {
            crate::requests::rules::ensure_tags(&mut tx, std::slice::from_ref(&tags)).await?;
        }
        match new.offer {
            Some(offer) => {
                add_intent(
                    &mut tx,
                    new,
                    Some(id),
                    "cancel_submitted",
                    &answers_text(&asked),
                    channel,
                    &now,
                )
                .await?;
                add_intent(
                    &mut tx,
                    new,
                    Some(id),
                    "offer_accepted",
                    offer.label(),
                    channel,
                    &now,
                )
                .await?;
            }
            None => {
                add_intent(
                    &mut tx,
                    new,
                    Some(id),
                    "submitted",
                    &answers_text(&kept),
                    channel,
                    &now,
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok((self.request(id).await?, true))
    }

    /// Keeps an intent that made no request (an offer shown, a cancellation
    /// withdrawn after one).
    pub async fn record_intent(
        &self,
        customer_id: i64,
        subscription_id: Option<i64>,
        kind: &str,
        detail: &str,
        channel: Channel,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let new = NewRequest {
            customer_id,
            subscription_id,
            ..Default::default()
        };
        add_intent(
            &mut tx,
            &new,
            None,
            kind,
            detail,
            channel,
            &self.clock.now_text(),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn request_by_form_token(&self, token: &str) -> Result<Option<Request>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {REQUEST_COLUMNS} FROM requests WHERE form_token = $1"
        )))
        .bind(token.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(request_from_row).transpose()
    }

    pub async fn request(&self, id: i64) -> Result<Request, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {REQUEST_COLUMNS} FROM requests WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound("申請"))?;
        request_from_row(&row)
    }

    /// Requests, newest first (oldest first by key with a keyset).
    pub async fn requests(&self, q: &RequestQuery) -> Result<Vec<Request>, StoreError> {
        let (filter, mut args) = q.filter(true);
        let limit = q.limit.clamp(1, 500);
        let (filter, order) = if q.keyset.is_active() {
            q.keyset.apply(&filter, &mut args)
        } else {
            (filter, "id DESC")
        };
        let sql = format!(
            "SELECT {REQUEST_COLUMNS} FROM requests{filter} ORDER BY {order} LIMIT {limit}"
        );
        let rows = crate::db::query_with(sql, args)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(request_from_row).collect()
    }

    /// How many requests match the filters, per status (the 受信BOX tabs).
    pub async fn request_counts(
        &self,
        q: &RequestQuery,
    ) -> Result<Vec<(RequestStatus, i64)>, StoreError> {
        let q = RequestQuery {
            before_id: None,
            ..q.clone()
        };
        let (filter, args) = q.filter(false);
        let rows = crate::db::query_with(
            format!("SELECT status, COUNT(*) AS n FROM requests{filter} GROUP BY status"),
            args,
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<(RequestStatus, i64)> =
            RequestStatus::ALL.iter().map(|s| (*s, 0)).collect();
        for r in &rows {
            if let Some(s) = RequestStatus::parse(&get_str(r, "status")?)
                && let Some(slot) = out.iter_mut().find(|(k, _)| *k == s)
            {
                slot.1 = get_i64(r, "n")?;
            }
        }
        Ok(out)
    }

    /// The current dates of these subscriptions, by id (one query).
    pub async fn subscription_dates(
        &self,
        ids: &[i64],
    ) -> Result<std::collections::HashMap<i64, SubscriptionDates>, StoreError> {
        let mut out = std::collections::HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let args: Vec<crate::db::Arg> = ids.iter().map(|i| (*i).into()).collect();
        let rows = crate::db::query_with(
            format!(
                "SELECT id, status, next_delivery_date, next_ship_date, previous_delivery_date, count FROM subscriptions WHERE id IN ({})",
                crate::db::in_list(ids.len(), 1)
            ),
            args,
        )
        .fetch_all(&self.pool)
        .await?;
        for r in &rows {
            out.insert(
                get_i64(r, "id")?,
                SubscriptionDates {
                    status: get_str(r, "status")?,
                    next_delivery: get_str(r, "next_delivery_date")?,
                    next_ship: get_str(r, "next_ship_date")?,
                    previous_delivery: crate::db::get_opt_str(r, "previous_delivery_date")?,
                    count: get_i64(r, "count")?,
                },
            );
        }
        Ok(out)
    }

    pub async fn request_history(&self, id: i64) -> Result<Vec<RequestHistoryEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT at, actor, what FROM request_history WHERE request_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(RequestHistoryEntry {
                    at: get_str(r, "at")?,
                    actor: get_str(r, "actor")?,
                    what: get_str(r, "what")?,
                })
            })
            .collect()
    }

    /// Everything a customer asked and was shown, oldest first: the case
    /// file a shop hands over when a customer disputes a cancellation.
    pub async fn customer_intents(&self, customer_id: i64) -> Result<Vec<Intent>, StoreError> {
        let rows = sqlx::query(
            "SELECT at, kind, detail, channel, subscription_id, request_id FROM request_intents WHERE customer_id = $1 ORDER BY id",
        )
        .bind(customer_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Intent {
                    at: get_str(r, "at")?,
                    kind: get_str(r, "kind")?,
                    detail: get_str(r, "detail")?,
                    channel: get_str(r, "channel")?,
                    subscription_id: get_opt_i64(r, "subscription_id")?,
                    request_id: get_opt_i64(r, "request_id")?,
                })
            })
            .collect()
    }

    /// The customer linked to a LINE user id, if any.
    pub async fn customer_by_line_user(
        &self,
        line_user_id: &str,
    ) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT customer_id FROM customer_accounts WHERE line_user_id = $1")
            .bind(line_user_id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| get_i64(&r, "customer_id")).transpose()?)
    }

    /// Links a LINE user id to a customer (a LIFF form opened from the
    /// customer's signed link). A LINE account already linked to another
    /// customer is refused.
    pub async fn link_line_user(
        &self,
        customer_id: i64,
        line_user_id: &str,
    ) -> Result<(), StoreError> {
        if let Some(other) = self.customer_by_line_user(line_user_id).await? {
            if other == customer_id {
                return Ok(());
            }
            return Err(StoreError::Conflict {
                field: Some("id_token".into()),
                message: "このLINEアカウントは別のお客様と連携されています".into(),
            });
        }
        let now = self.clock.now_text();
        sqlx::query(
            "INSERT INTO customer_accounts (customer_id, line_user_id, created_at, updated_at) VALUES ($1, $2, $3, $3) \
             ON CONFLICT (customer_id) DO UPDATE SET line_user_id = excluded.line_user_id, updated_at = excluded.updated_at",
        )
        .bind(customer_id)
        .bind(line_user_id.to_string())
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|e| {
            StoreError::unique_as_conflict(
                e,
                "id_token",
                "このLINEアカウントは別のお客様と連携されています".into(),
            )
        })?;
        Ok(())
    }
}

/// A form token seen before answers with its request only for the same
/// customer: another customer's request is never shown (409 instead).
fn same_customer(existing: Request, customer_id: i64) -> Result<Request, StoreError> {
    if existing.customer_id == customer_id {
        Ok(existing)
    } else {
        Err(StoreError::Conflict {
            field: Some("form_token".into()),
            message:
                "この form_token は別の申請で使われています。申請ごとに新しい値を送ってください"
                    .into(),
        })
    }
}

/// The columns analytics groups by: col_4, and the period of a 休止 (col_2) or
/// a サイクル変更 (col_3) — as read (「2ヶ月」) when it can be, as sent otherwise.
pub(crate) fn analytics_columns(s: &Submission) -> (String, String) {
    let product = s.value("col_4").unwrap_or_default().trim().to_string();
    let raw = match s.request_type.as_str() {
        juchu_domain::request::PAUSE => s.value("col_2"),
        juchu_domain::request::CYCLE_CHANGE => s.value("col_3"),
        _ => None,
    }
    .unwrap_or_default();
    let period = juchu_domain::request_rule::Period::parse(raw)
        .map(|p| p.label())
        .unwrap_or_else(|| raw.trim().chars().take(50).collect());
    (product, period)
}

/// Each answer as a row (per-answer breakdowns).
pub(crate) async fn write_answers(
    tx: &mut Tx,
    request_id: i64,
    answers: &[Answer],
) -> Result<(), StoreError> {
    if answers.is_empty() {
        return Ok(());
    }
    let mut args: Vec<crate::db::Arg> = Vec::with_capacity(answers.len() * 3);
    let mut values = Vec::with_capacity(answers.len());
    for (i, a) in answers.iter().enumerate() {
        values.push(format!("(${}, ${}, ${})", i * 3 + 1, i * 3 + 2, i * 3 + 3));
        args.push(request_id.into());
        args.push(a.name.as_str().into());
        args.push(a.value.chars().take(200).collect::<String>().into());
    }
    crate::db::query_with(
        format!(
            "INSERT INTO request_answers (request_id, name, value) VALUES {}",
            values.join(", ")
        ),
        args,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn answers_text(s: &Submission) -> String {
    s.answers
        .iter()
        .map(|a| format!("{}={}", a.name, a.value))
        .collect::<Vec<_>>()
        .join(" / ")
}

pub(crate) async fn add_history(
    tx: &mut Tx,
    request_id: i64,
    actor: &Actor,
    what: &str,
    at: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO request_history (request_id, actor, what, at) VALUES ($1, $2, $3, $4)",
    )
    .bind(request_id)
    .bind(actor.name().to_string())
    .bind(what.to_string())
    .bind(at.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn add_intent(
    tx: &mut Tx,
    new: &NewRequest,
    request_id: Option<i64>,
    kind: &str,
    detail: &str,
    channel: Channel,
    at: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO request_intents (customer_id, subscription_id, request_id, kind, detail, channel, at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(new.customer_id)
    .bind(new.subscription_id)
    .bind(request_id)
    .bind(kind.to_string())
    .bind(detail.to_string())
    .bind(channel.code())
    .bind(at.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
