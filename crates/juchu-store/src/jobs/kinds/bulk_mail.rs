//! メール一括通知: a stored template or typed text, queued for each order.

use crate::StoreError;
use crate::db::{Store, Tx};
use crate::history::Actor;
use crate::jobs::kind::*;
use crate::snapshot::Snapshot;
use juchu_domain::FieldErrors;
use juchu_domain::job::BulkMail;
use juchu_domain::job::{ItemOutcome, JobKind, JobParams};
use juchu_domain::mail::MailTemplate;
use juchu_domain::order::Order;

pub(crate) struct BulkMailKind;

fn params(p: &JobParams) -> Result<&BulkMail, StoreError> {
    match p {
        JobParams::BulkMail(m) => Ok(m),
        _ => mismatch(JobKind::BulkMail),
    }
}

impl Kind for BulkMailKind {
    fn kind(&self) -> JobKind {
        JobKind::BulkMail
    }

    fn check<'a>(&'a self, store: &'a Store, p: &'a JobParams) -> KindFuture<'a, ()> {
        Box::pin(async move {
            let m = params(p)?;
            if let (Some(subject), Some(body)) = (&m.subject, &m.body) {
                let typed = juchu_domain::mail::MailTemplate {
                    code: "bulk_mail".into(),
                    name: "メール一括通知".into(),
                    subject: subject.clone(),
                    body: body.clone(),
                };
                if let Err(e) =
                    juchu_domain::mail::render(&typed, &juchu_domain::mail::sample_context())
                {
                    return Err(FieldErrors::single(
                        "params.body",
                        "bad_template",
                        format!("件名か本文を作れません: {e}"),
                    )
                    .into());
                }
            }
            if let Some(code) = &m.template_code
                && m.subject.is_none()
            {
                let mut conn = store.pool().acquire().await?;
                if crate::mail::template(&mut conn, code).await?.is_none() {
                    return Err(FieldErrors::single(
                        "params.template_code",
                        "unknown",
                        format!("メールテンプレート「{code}」はありません"),
                    )
                    .into());
                }
            }
            Ok(())
        })
    }

    fn checks_orders(&self) -> bool {
        true
    }

    fn needs_opt_outs(&self) -> bool {
        true
    }

    fn would_fail(&self, ctx: &DryRunContext<'_>, order: &Order) -> Option<String> {
        if order
            .customer_id
            .is_some_and(|c| ctx.opted_out.contains(&c))
        {
            Some("メール設定が「送信しない」の顧客です（送信せずに結果に記録します）".into())
        } else if order.billing.email.trim().is_empty() {
            Some("請求者のメールアドレスがありません".into())
        } else {
            None
        }
    }

    fn run_chunk<'a>(&'a self, c: Chunk<'a>) -> KindFuture<'a, Outcomes> {
        Box::pin(async move {
            let m = params(c.params)?;
            let snapshot = c.store.masters_in(c.tx).await?;
            let orders = lock_orders(c.store, c.tx, c.items).await?;
            let template = mail_template(c.tx, m).await?;
            let work = OneOrder {
                m,
                template: &template,
                snapshot: &snapshot,
                actor: c.actor,
            };
            run_each(c.store, c.tx, c.items, &orders, &work).await
        })
    }
}

struct OneOrder<'a> {
    m: &'a BulkMail,
    template: &'a MailTemplate,
    snapshot: &'a Snapshot,
    actor: &'a Actor,
}

impl PerOrder for OneOrder<'_> {
    fn run<'a>(
        &'a self,
        store: &'a Store,
        tx: &'a mut Tx,
        order: &'a Order,
    ) -> KindFuture<'a, Outcome> {
        Box::pin(bulk_mail(
            store,
            tx,
            self.m,
            self.template,
            order,
            self.snapshot,
            self.actor,
        ))
    }
}

/// The template a メール一括通知 sends: a stored one, or the typed text.
async fn mail_template(tx: &mut Tx, m: &BulkMail) -> Result<MailTemplate, StoreError> {
    if let (Some(subject), Some(body)) = (&m.subject, &m.body) {
        return Ok(MailTemplate {
            code: "bulk_mail".into(),
            name: "メール一括通知".into(),
            subject: subject.clone(),
            body: body.clone(),
        });
    }
    let code = m.template_code.clone().unwrap_or_default();
    crate::mail::template(tx, &code)
        .await?
        .ok_or_else(|| invalid(format!("メールテンプレート「{code}」はありません")))
}

async fn bulk_mail(
    store: &Store,
    tx: &mut Tx,
    m: &BulkMail,
    t: &MailTemplate,
    order: &Order,
    snapshot: &Snapshot,
    actor: &Actor,
) -> Result<Outcome, StoreError> {
    let copies = crate::mail::Copies {
        cc: m.cc.clone(),
        bcc: m.bcc.clone(),
    };
    match crate::mail::queue_template(
        tx,
        t,
        order,
        &snapshot.masters,
        &copies,
        &store.clock.now_text(),
    )
    .await?
    {
        Ok(done) => {
            store
                .job_note(tx, order.id, actor, "mail", done.clone())
                .await?;
            Ok((ItemOutcome::Ok, done))
        }
        // Opted out or no address: reported, not an error.
        Err(why) => Ok((ItemOutcome::Skipped, why)),
    }
}
