//! 管理者用スペース: messages between the shop and the customer on an order.
//! Staff write from the order page (optionally with 「ショップからのメッセージが
//! あります」 by mail); the customer reads and replies in マイページ's 注文履歴.
//! Each side's unread messages are marked read when the other side opens them.

use crate::StoreError;
use crate::db::{Store, get_i64, get_opt_str, get_str, write_rows};
use crate::history::{Actor, HistoryRow, order_history_rows};
use juchu_domain::mypage::{MessageAuthor, check_message};
use std::collections::HashSet;

/// One message on an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderMessage {
    pub id: i64,
    pub order_number: String,
    pub author: MessageAuthor,
    /// The staff member who wrote it ("" for the customer's).
    pub staff_name: String,
    pub body: String,
    pub created_at: String,
    /// When the other side first saw it.
    pub read_at: Option<String>,
}

/// What posting a message did.
#[derive(Debug, Clone)]
pub struct Posted {
    pub message: OrderMessage,
    /// The notice mail's outcome, when one was asked for: `Ok(what was
    /// queued)` or `Err(why it was not sent)`.
    pub mail: Option<Result<String, String>>,
}

/// Whether shop messages mail the customer unless staff say otherwise.
const NOTIFY_SETTING: &str = "mypage.message_mail";

impl Store {
    /// Whether a shop message mails the customer by default (マイページ設定).
    pub async fn message_mail_default(&self) -> Result<bool, StoreError> {
        let mut conn = self.pool.acquire().await?;
        Ok(crate::settings::setting(&mut conn, NOTIFY_SETTING)
            .await?
            .is_none_or(|v| v != "off"))
    }

    pub async fn set_message_mail_default(&self, on: bool) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        crate::settings::set_setting(&mut conn, NOTIFY_SETTING, if on { "on" } else { "off" }).await
    }

    /// Posts a message on the order. A shop message (`by` staff or API) may
    /// mail the customer; a customer's message (`by` [`Actor::Customer`])
    /// must be on one of their own orders (the caller checked). Each is in
    /// the order's 履歴.
    pub async fn post_order_message(
        &self,
        order_number: &str,
        author: MessageAuthor,
        body: &str,
        notify: bool,
        by: &Actor,
    ) -> Result<Posted, StoreError> {
        check_message(body)?;
        let order = self.order_by_number(order_number).await?;
        let masters = self.masters().await?;
        let now = self.clock.now_text();
        let staff_name = match author {
            MessageAuthor::Shop => by.name().to_string(),
            MessageAuthor::Customer => String::new(),
        };
        let mut tx = self.begin().await?;
        let row = sqlx::query(
            "INSERT INTO order_messages (order_id, author, staff_name, body, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(order.id)
        .bind(author.code())
        .bind(staff_name.clone())
        .bind(body.to_string())
        .bind(now.clone())
        .fetch_one(&mut *tx)
        .await?;
        let id = get_i64(&row, "id")?;
        let mail = if author == MessageAuthor::Shop && notify {
            Some(
                crate::mail::queue_for_order(
                    &mut tx,
                    juchu_domain::mail::ORDER_MESSAGE,
                    &order,
                    &masters,
                    &now,
                )
                .await?,
            )
        } else {
            None
        };
        let excerpt: String = body.chars().take(60).collect();
        let what = match author {
            MessageAuthor::Shop => "ショップからのメッセージ",
            MessageAuthor::Customer => "お客様からのメッセージ",
        };
        write_rows(
            &mut tx,
            self.backend,
            vec![order_history_rows(
                &[HistoryRow::by(by, order.id, "message", "", excerpt, what)],
                &now,
            )],
        )
        .await?;
        tx.commit().await?;
        Ok(Posted {
            message: OrderMessage {
                id,
                order_number: order.order_number,
                author,
                staff_name,
                body: body.to_string(),
                created_at: now,
                read_at: None,
            },
            mail,
        })
    }

    /// The order's messages, oldest first.
    pub async fn order_messages(
        &self,
        order_number: &str,
    ) -> Result<Vec<OrderMessage>, StoreError> {
        let rows = sqlx::query(
            "SELECT m.id, o.order_number, m.author, m.staff_name, m.body, m.created_at, m.read_at FROM order_messages m \
             JOIN orders o ON o.id = m.order_id WHERE o.order_number = $1 ORDER BY m.id",
        )
        .bind(order_number.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let author = get_str(r, "author")?;
                Ok(OrderMessage {
                    id: get_i64(r, "id")?,
                    order_number: get_str(r, "order_number")?,
                    author: MessageAuthor::parse(&author).ok_or_else(|| {
                        StoreError::Other(format!("unknown message author {author:?}"))
                    })?,
                    staff_name: get_str(r, "staff_name")?,
                    body: get_str(r, "body")?,
                    created_at: get_str(r, "created_at")?,
                    read_at: get_opt_str(r, "read_at")?,
                })
            })
            .collect()
    }

    /// Marks what `written_by` wrote on the order as read (the other side
    /// opened it).
    pub async fn mark_messages_read(
        &self,
        order_number: &str,
        written_by: MessageAuthor,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE order_messages SET read_at = $1 WHERE read_at IS NULL AND author = $2 \
             AND order_id = (SELECT id FROM orders WHERE order_number = $3)",
        )
        .bind(self.clock.now_text())
        .bind(written_by.code())
        .bind(order_number.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Orders (by id) among `order_ids` with a message by `author` the other
    /// side has not opened (customer replies for staff, shop messages for the
    /// customer).
    pub async fn orders_with_unread(
        &self,
        order_ids: &[i64],
        author: MessageAuthor,
    ) -> Result<HashSet<i64>, StoreError> {
        let mut out = HashSet::new();
        for chunk in order_ids.chunks(500) {
            let sql = format!(
                "SELECT DISTINCT order_id FROM order_messages WHERE author = $1 AND read_at IS NULL AND order_id IN ({})",
                crate::db::in_list(chunk.len(), 2)
            );
            let mut args: Vec<crate::db::Arg> = vec![author.code().into()];
            args.extend(chunk.iter().map(|i| crate::db::Arg::from(*i)));
            for r in crate::db::query_with(sql, args)
                .fetch_all(&self.pool)
                .await?
            {
                out.insert(get_i64(&r, "order_id")?);
            }
        }
        Ok(out)
    }

    /// Customer messages staff have not opened, with their order numbers
    /// (newest first, at most `limit`), and how many there are in all.
    pub async fn unread_replies(&self, limit: i64) -> Result<(Vec<String>, i64), StoreError> {
        let n = get_i64(
            &sqlx::query(
                "SELECT COUNT(*) AS n FROM order_messages WHERE author = 'customer' AND read_at IS NULL",
            )
            .fetch_one(&self.pool)
            .await?,
            "n",
        )?;
        let rows = sqlx::query(
            "SELECT o.order_number, MAX(m.id) AS last FROM order_messages m JOIN orders o ON o.id = m.order_id \
             WHERE m.author = 'customer' AND m.read_at IS NULL GROUP BY o.order_number ORDER BY last DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let numbers = rows
            .iter()
            .map(|r| get_str(r, "order_number"))
            .collect::<Result<_, _>>()?;
        Ok((numbers, n))
    }
}
