//! Keyset paging for integrations that mirror juchu: `after` (the cursor the
//! last page returned) and `updated_since` on the lists of orders,
//! customers, subscriptions and requests. Unlike page numbers, a row that
//! arrives or changes while a client pages never shifts the pages after it.
//!
//! Without `updated_since` rows come in id order (`after` = the last id);
//! with it, in (updated_at, id) order (`after` = `<updated_at>~<id>`).
//! A row committed late with an earlier `updated_at` can still be passed by a
//! reader; the event feed (`/api/v1/events`) is the exact channel, and a
//! mirror that polls `updated_since` re-reads a short overlap (see README).

use super::Arg;
use juchu_domain::FieldErrors;

/// Where the next page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cursor {
    Id(i64),
    Updated { at: String, id: i64 },
}

/// `after` and `updated_since` of a list request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keyset {
    /// Stored text (RFC 3339, UTC) of the earliest `updated_at` wanted.
    pub updated_since: Option<String>,
    pub after: Option<Cursor>,
}

impl Keyset {
    /// Reads the query parameters; an error names the parameter.
    pub fn parse(after: Option<&str>, updated_since: Option<&str>) -> Result<Keyset, FieldErrors> {
        let mut e = FieldErrors::default();
        let updated_since = match updated_since.map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => match s.parse::<jiff::Timestamp>() {
                Ok(t) => Some(juchu_domain::time::format_ts(t)),
                Err(_) => {
                    e.add(
                        "updated_since",
                        "invalid_timestamp",
                        "updated_since は RFC 3339 の日時で指定してください（例: 2026-12-01T00:00:00Z）",
                    );
                    None
                }
            },
        };
        let after = match after.map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(a) => {
                match a.split_once('~') {
                    None => {
                        match a.parse::<i64>() {
                            Ok(id) => Some(Cursor::Id(id)),
                            Err(_) => {
                                e.add("after", "invalid_cursor", format!("after「{a}」は前のページが返した next_after を指定してください"));
                                None
                            }
                        }
                    }
                    Some((at, id)) => {
                        match (at.parse::<jiff::Timestamp>(), id.parse::<i64>()) {
                            (Ok(t), Ok(id)) => Some(Cursor::Updated {
                                at: juchu_domain::time::format_ts(t),
                                id,
                            }),
                            _ => {
                                e.add("after", "invalid_cursor", format!("after「{a}」は前のページが返した next_after を指定してください"));
                                None
                            }
                        }
                    }
                }
            }
        };
        e.into_result()?;
        Ok(Keyset {
            updated_since,
            after,
        })
    }

    /// Whether the list is paged by key (not by page number).
    pub fn is_active(&self) -> bool {
        self.updated_since.is_some() || self.after.is_some()
    }

    fn by_update(&self) -> bool {
        self.updated_since.is_some() || matches!(self.after, Some(Cursor::Updated { .. }))
    }

    /// `where_sql` ("" or " WHERE …", its arguments in `args`) with the
    /// keyset's conditions added, and the ORDER BY to use.
    pub(crate) fn apply(&self, where_sql: &str, args: &mut Vec<Arg>) -> (String, &'static str) {
        let mut conds = Vec::new();
        if let Some(s) = &self.updated_since {
            args.push(s.clone().into());
            conds.push(format!("updated_at >= ${}", args.len()));
        }
        match &self.after {
            None => {}
            Some(Cursor::Id(id)) => {
                args.push((*id).into());
                conds.push(format!("id > ${}", args.len()));
            }
            Some(Cursor::Updated { at, id }) => {
                args.push(at.clone().into());
                args.push((*id).into());
                conds.push(format!(
                    "(updated_at > ${a} OR (updated_at = ${a} AND id > ${b}))",
                    a = args.len() - 1,
                    b = args.len()
                ));
            }
        }
        let mut sql = where_sql.to_string();
        for c in conds {
            sql.push_str(if sql.is_empty() { " WHERE " } else { " AND " });
            sql.push_str(&c);
        }
        let order = if self.by_update() {
            "updated_at ASC, id ASC"
        } else {
            "id ASC"
        };
        (sql, order)
    }

    /// The cursor after a row with this id and updated_at.
    pub fn next_after(&self, id: i64, updated_at: &str) -> String {
        if self.by_update() {
            format!("{updated_at}~{id}")
        } else {
            id.to_string()
        }
    }
}

/// The cursor after the last of `rows` (which carry `id` and `updated_at`).
pub(crate) fn next_after_rows(
    k: &Keyset,
    rows: &[sqlx::any::AnyRow],
) -> Result<Option<String>, sqlx::Error> {
    match rows.last() {
        None => Ok(None),
        Some(r) => Ok(Some(k.next_after(
            super::get_i64(r, "id")?,
            &super::get_str(r, "updated_at")?,
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_and_conditions() {
        let k = Keyset::parse(Some("42"), None).unwrap();
        let mut args = vec![];
        let (w, o) = k.apply(" WHERE status = $0", &mut args);
        assert_eq!(w, " WHERE status = $0 AND id > $1");
        assert_eq!(o, "id ASC");
        assert_eq!(k.next_after(50, "x"), "50");
        let k = Keyset::parse(None, Some("2026-12-01T09:00:00+09:00")).unwrap();
        assert_eq!(k.updated_since.as_deref(), Some("2026-12-01T00:00:00Z"));
        let c = k.next_after(7, "2026-12-02T00:00:00Z");
        assert_eq!(c, "2026-12-02T00:00:00Z~7");
        let k2 = Keyset::parse(Some(&c), Some("2026-12-01T00:00:00Z")).unwrap();
        let mut args = vec![];
        let (w, o) = k2.apply("", &mut args);
        assert_eq!(
            w,
            " WHERE updated_at >= $1 AND (updated_at > $2 OR (updated_at = $2 AND id > $3))"
        );
        assert_eq!(o, "updated_at ASC, id ASC");
        assert_eq!(
            Keyset::parse(Some("x"), None).unwrap_err().0[0].field,
            "after"
        );
        assert_eq!(
            Keyset::parse(None, Some("yesterday")).unwrap_err().0[0].field,
            "updated_since"
        );
        assert!(!Keyset::default().is_active());
    }
}
