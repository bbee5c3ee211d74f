//! 顧客: contact data with normalised match keys beside what was typed.

use crate::StoreError;
use crate::db::{Arg, Store, Tx, get_bool, get_i64, get_str, query_with};
use juchu_domain::customer::{Address, Customer, CustomerInput};
use juchu_domain::normalize::{email_key, like_prefix, name_key, phone_key, postal_key};
use sqlx::any::AnyRow;

pub(crate) const COLUMNS: &str = "id, family_name, given_name, family_kana, given_kana, postal_code, prefecture, address1, address2, phone, email, mail_opt_out, points, memo, created_at, blacklisted, blacklist_reason, company_name, department";

pub(crate) fn from_row(r: &AnyRow) -> Result<Customer, sqlx::Error> {
    Ok(Customer {
        id: get_i64(r, "id")?,
        address: Address {
            family_name: get_str(r, "family_name")?,
            given_name: get_str(r, "given_name")?,
            family_kana: get_str(r, "family_kana")?,
            given_kana: get_str(r, "given_kana")?,
            postal_code: get_str(r, "postal_code")?,
            prefecture: get_str(r, "prefecture")?,
            address1: get_str(r, "address1")?,
            address2: get_str(r, "address2")?,
            phone: get_str(r, "phone")?,
            email: get_str(r, "email")?,
            company_name: get_str(r, "company_name")?,
            department: get_str(r, "department")?,
        },
        mail_opt_out: get_bool(r, "mail_opt_out")?,
        points: get_i64(r, "points")?,
        memo: get_str(r, "memo")?,
        created_at: get_str(r, "created_at")?,
        blacklisted: get_bool(r, "blacklisted")?,
        blacklist_reason: get_str(r, "blacklist_reason")?,
    })
}

/// Bind values of a customer row in column order: the contact data, then the
/// normalised match keys (see [`key_args`]).
pub(crate) fn customer_args(input: &CustomerInput) -> Vec<Arg> {
    let a = &input.address;
    let mut args: Vec<Arg> = vec![
        a.family_name.trim().into(),
        a.given_name.trim().into(),
        a.family_kana.trim().into(),
        a.given_kana.trim().into(),
        a.postal_code.clone().into(),
        a.prefecture.clone().into(),
        a.address1.trim().into(),
        a.address2.trim().into(),
        a.phone.clone().into(),
        a.email.clone().into(),
        input.mail_opt_out.into(),
        input.points.into(),
        input.memo.clone().into(),
    ];
    args.extend(key_args(a));
    args.push(a.company_name.trim().into());
    args.push(a.department.trim().into());
    args
}

fn key_args(a: &Address) -> Vec<Arg> {
    vec![
        name_key(&format!("{}{}", a.family_name, a.given_name)).into(),
        name_key(&format!("{}{}", a.family_kana, a.given_kana)).into(),
        phone_key(&a.phone).into(),
        email_key(&a.email).into(),
        postal_key(&a.postal_code).into(),
    ]
}

/// Filters of the customer list.
#[derive(Debug, Clone, Default)]
pub struct CustomerQuery {
    /// Name or kana prefix (normalised).
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    /// Only blacklisted customers (true) or only others (false).
    pub blacklisted: Option<bool>,
    /// `after` / `updated_since` (integrations): pages by key, oldest first.
    pub keyset: crate::db::keyset::Keyset,
}

/// One page of customers.
#[derive(Debug, Clone)]
pub struct CustomerPage {
    pub customers: Vec<Customer>,
    /// Every match (before paging).
    pub total: i64,
    /// With a keyset: the `after` of the next page.
    pub next_after: Option<String>,
}

/// Inserts a validated customer inside the caller's transaction.
pub(crate) async fn insert(
    tx: &mut Tx,
    input: &CustomerInput,
    clock: &crate::db::Clock,
) -> Result<Customer, StoreError> {
    let a = &input.address;
    let now = clock.now_text();
    let mut args = customer_args(input);
    args.push(now.clone().into());
    args.push(now.clone().into());
    let sql = "INSERT INTO customers (family_name, given_name, family_kana, given_kana, postal_code, prefecture, address1, address2, phone, email, mail_opt_out, points, memo, name_key, kana_key, phone_key, email_key, postal_key, company_name, department, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22) RETURNING id";
    let row = query_with(sql.into(), args).fetch_one(&mut **tx).await?;
    Ok(Customer {
        id: get_i64(&row, "id")?,
        address: a.clone(),
        mail_opt_out: input.mail_opt_out,
        points: input.points,
        memo: input.memo.clone(),
        created_at: now,
        blacklisted: false,
        blacklist_reason: String::new(),
    })
}

pub(crate) async fn get_in_tx(tx: &mut Tx, id: i64) -> Result<Option<Customer>, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM customers WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.as_ref().map(from_row).transpose()?)
}

/// Which of the orders' customers opted out of mail (メール設定: 送信しない).
pub(crate) async fn opted_out(
    exec: &mut sqlx::AnyConnection,
    orders: &[juchu_domain::order::Order],
) -> Result<std::collections::HashSet<i64>, StoreError> {
    let mut ids: Vec<i64> = orders.iter().filter_map(|o| o.customer_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut out = std::collections::HashSet::new();
    for chunk in ids.chunks(500) {
        let sql = format!(
            "SELECT id FROM customers WHERE mail_opt_out = 1 AND id IN ({})",
            crate::db::in_list(chunk.len(), 1)
        );
        let args = chunk.iter().map(|id| crate::db::Arg::from(*id)).collect();
        for r in crate::db::query_with(sql, args)
            .fetch_all(&mut *exec)
            .await?
        {
            out.insert(crate::db::get_i64(&r, "id")?);
        }
    }
    Ok(out)
}

impl Store {
    pub async fn create_customer(&self, input: CustomerInput) -> Result<Customer, StoreError> {
        let input = input.validate()?;
        let mut tx = self.begin().await?;
        let c = insert(&mut tx, &input, &self.clock).await?;
        tx.commit().await?;
        Ok(c)
    }

    /// Creates many customers in one transaction, all or none (demo data, imports).
    /// Errors name the input's index: `customers[3].phone`.
    pub async fn create_customers(
        &self,
        inputs: Vec<CustomerInput>,
    ) -> Result<Vec<Customer>, StoreError> {
        let mut errors = juchu_domain::FieldErrors::default();
        let mut valid = Vec::with_capacity(inputs.len());
        for (i, c) in inputs.into_iter().enumerate() {
            match c.validate() {
                Ok(c) => valid.push(c),
                Err(e) => errors.0.extend(e.0.into_iter().map(|mut f| {
                    f.field = format!("customers[{i}].{}", f.field);
                    f
                })),
            }
        }
        errors.into_result()?;
        let mut tx = self.begin().await?;
        let mut out = Vec::with_capacity(valid.len());
        for c in &valid {
            out.push(insert(&mut tx, c, &self.clock).await?);
        }
        tx.commit().await?;
        Ok(out)
    }

    pub async fn customer(&self, id: i64) -> Result<Customer, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM customers WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound("顧客"))?;
        Ok(from_row(&row)?)
    }

    /// Replaces a customer's data. Orders keep the billing data they were placed with.
    pub async fn update_customer(
        &self,
        id: i64,
        input: CustomerInput,
    ) -> Result<Customer, StoreError> {
        let input = input.validate()?;
        let mut args = customer_args(&input);
        args.push(self.clock.now_text().into());
        args.push(id.into());
        let sql = "UPDATE customers SET family_name = $1, given_name = $2, family_kana = $3, given_kana = $4, postal_code = $5, prefecture = $6, address1 = $7, address2 = $8, phone = $9, email = $10, mail_opt_out = $11, points = $12, memo = $13, name_key = $14, kana_key = $15, phone_key = $16, email_key = $17, postal_key = $18, company_name = $19, department = $20, updated_at = $21 WHERE id = $22";
        let mut tx = self.begin().await?;
        let done = query_with(sql.into(), args).execute(&mut *tx).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("顧客"));
        }
        tx.commit().await?;
        self.customer(id).await
    }

    pub async fn list_customers(
        &self,
        q: &CustomerQuery,
        limit: i64,
        offset: i64,
    ) -> Result<CustomerPage, StoreError> {
        let mut conds: Vec<String> = Vec::new();
        let mut args: Vec<Arg> = Vec::new();
        if let Some(n) = q.name.as_deref().map(name_key).filter(|s| !s.is_empty()) {
            args.push(like_prefix(&n).into());
            args.push(like_prefix(&n).into());
            conds.push(format!(
                "(name_key LIKE ${} ESCAPE '\\' OR kana_key LIKE ${} ESCAPE '\\')",
                args.len() - 1,
                args.len()
            ));
        }
        // A filter given with nothing to match on (`phone=abc`: no digits)
        // matches nothing; it never falls back to listing everyone.
        type Normalise = fn(&str) -> String;
        let keys: [(Option<&str>, Normalise); 3] = [
            (q.name.as_deref(), name_key),
            (q.phone.as_deref(), phone_key),
            (q.email.as_deref(), email_key),
        ];
        if keys
            .iter()
            .any(|(v, key)| v.is_some_and(|v| !v.trim().is_empty() && key(v).is_empty()))
        {
            conds.push("1 = 0".into());
        }
        if let Some(p) = q.phone.as_deref().map(phone_key).filter(|s| !s.is_empty()) {
            args.push(p.into());
            conds.push(format!("phone_key = ${}", args.len()));
        }
        if let Some(e) = q.email.as_deref().map(email_key).filter(|s| !s.is_empty()) {
            args.push(e.into());
            conds.push(format!("email_key = ${}", args.len()));
        }
        if let Some(b) = q.blacklisted {
            args.push(b.into());
            conds.push(format!("blacklisted = ${}", args.len()));
        }
        let filter = if conds.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conds.join(" AND "))
        };
        let count_sql = format!("SELECT COUNT(*) AS n FROM customers{filter}");
        let total = get_i64(
            &query_with(count_sql, args.clone())
                .fetch_one(&self.pool)
                .await?,
            "n",
        )?;
        let keyed = q.keyset.is_active();
        let (filter, order) = if keyed {
            q.keyset.apply(&filter, &mut args)
        } else {
            (filter, "id DESC")
        };
        let n = args.len();
        args.push(limit.into());
        args.push(if keyed { 0 } else { offset }.into());
        let sql = format!(
            "SELECT {COLUMNS}, updated_at FROM customers{filter} ORDER BY {order} LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        let rows = query_with(sql, args).fetch_all(&self.pool).await?;
        Ok(CustomerPage {
            customers: rows.iter().map(from_row).collect::<Result<_, _>>()?,
            total,
            next_after: if keyed {
                crate::db::keyset::next_after_rows(&q.keyset, &rows)?
            } else {
                None
            },
        })
    }
}
