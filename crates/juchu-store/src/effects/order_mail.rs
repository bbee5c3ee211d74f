//! A mail sent from the order page: a template previewed with the order's data,
//! edited by staff, queued as written and recorded in the order's 履歴.

use crate::StoreError;
use crate::db::{Store, write_rows};
use crate::history::{Actor, HistoryRow, order_history_rows};
use juchu_domain::FieldErrors;

/// What staff send: the template it started from and the final text.
#[derive(Debug, Clone, Default)]
pub struct WrittenMail {
    pub template_code: String,
    pub subject: String,
    pub body: String,
}

impl Store {
    /// Queues `mail` to the order's 請求者 and records it in 履歴. An empty
    /// subject and body mean "the template as it is" (a form sent without
    /// 「プレビュー」). Refused with the field: no address, an empty subject
    /// or body, an unknown template, a template that does not render.
    pub async fn send_order_mail(
        &self,
        order_number: &str,
        mail: &WrittenMail,
        actor: &Actor,
    ) -> Result<String, StoreError> {
        let order = self.order_by_number(order_number).await?;
        let templates = self.mail_templates().await?;
        let Some(template) = templates.iter().find(|t| t.code == mail.template_code) else {
            return Err(FieldErrors::single(
                "template",
                "unknown_template",
                format!("メールテンプレート「{}」がありません", mail.template_code),
            )
            .into());
        };
        let (subject, body) = if mail.subject.trim().is_empty() && mail.body.trim().is_empty() {
            self.preview_mail(&template.code, order_number, None)
                .await?
        } else {
            (mail.subject.trim().to_string(), mail.body.clone())
        };
        let mut e = FieldErrors::default();
        if subject.trim().is_empty() {
            e.add("subject", "required", "件名を入力してください");
        }
        if body.trim().is_empty() {
            e.add("body", "required", "本文を入力してください");
        }
        juchu_domain::text::check_len(&mut e, "subject", &subject, 200);
        juchu_domain::text::check_len(&mut e, "body", &body, 20_000);
        let to = order.billing.email.trim().to_string();
        if to.is_empty() {
            e.add(
                "to",
                "no_address",
                "請求者のメールアドレスがないため送れません（基本設定で請求先を編集してください）",
            );
        }
        e.into_result()?;
        let now = self.clock.now_text();
        let mut tx = self.begin().await?;
        crate::mail::queue_written(
            &mut tx,
            order.id,
            &template.code,
            &to,
            &subject,
            &body,
            &now,
        )
        .await?;
        let row = HistoryRow::by(
            actor,
            order.id,
            "mail",
            "",
            format!("{}「{subject}」→ {to}", template.name),
            "メール送信",
        );
        write_rows(
            &mut tx,
            self.backend,
            vec![order_history_rows(&[row], &now)],
        )
        .await?;
        tx.commit().await?;
        Ok(format!(
            "「{}」を {to} 宛てに送信待ちにしました。",
            template.name
        ))
    }
}
