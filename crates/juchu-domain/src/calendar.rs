//! Subscription calendar: delivery cycles, ship dates, skip, pause and the
//! creation date of the daily run. Pure date arithmetic on civil dates; the clock
//! is always passed in.
//!
//! Rules, as the shop sees them:
//! - **Months**: "every N months on day D". A month without day D uses its last day,
//!   and the anchor D is kept, so 31 Jan → 28/29 Feb → 31 Mar: no drift.
//! - **Weeks**: "every N weeks on a weekday": date + N weeks, then forward to the
//!   weekday (0–6 days) when an earlier change moved the date off it.
//! - **Ship date** = delivery date − 最短お届け日 (lead days), moved *earlier* to the
//!   nearest day the shop ships (発送しない日 are weekdays and single dates), so the
//!   promised delivery date still holds.
//! - **Skip** (スキップ): on a monthly cycle the next delivery moves to the next
//!   anchor date ("monthly on the 26th": 12-26 → 01-26, as the customer reads
//!   it); on a cycle of days or weeks it moves by the gap between the previous and
//!   the next delivery date. **Pause** (休止) puts the next delivery N days after
//!   the next or the previous delivery date.
//!
//! Overflow policy (nothing here panics, whatever the input):
//! - Functions returning `Result` report a date beyond the calendar (after
//!   9999-12-31) as a field error with code `out_of_range`.
//! - Functions returning a bare `Date` (`ship_date_for`, `delivery_date_for`,
//!   `creation_date`) saturate at [`Date::MIN`] / [`Date::MAX`]: they are derived
//!   display/scheduling values and the inputs that reach the ends of the calendar
//!   were already refused by the `Result` functions that produced them.

use crate::error::FieldErrors;
use jiff::Span;
use jiff::civil::{Date, Weekday};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// How often a subscription delivers.
///
/// JSON form: `{"kind":"days","every":30}`, `{"kind":"weeks","every":2,"weekday":1}`,
/// `{"kind":"months","every":1,"day":31}`,
/// `{"kind":"month_weekday","every":1,"week":2,"weekday":2}` (第2火曜日; week 5 is
/// the month's last). The weekday is an ISO number rather than a name so the
/// stored form does not depend on any library's spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Cycle {
    /// Every N days (1–365).
    Days { every: u16 },
    /// Every N weeks (1–52) on a weekday (ISO: 1 = Monday … 7 = Sunday).
    Weeks { every: u8, weekday: u8 },
    /// Every N months (1–12) on a day of the month (1–31). A month without that day
    /// uses its last day, and the anchor day is kept for the following months.
    Months { every: u8, day: u8 },
    /// Every N months (1–12) on the Kth weekday of the month (第2火曜日): week 1–4,
    /// or 5 for the month's last such weekday (最終).
    MonthWeekday { every: u8, week: u8, weekday: u8 },
}

const WEEKDAY_LABELS: [&str; 7] = ["月", "火", "水", "木", "金", "土", "日"];

/// Error field used when a computed delivery date falls off the calendar.
const NEXT_DELIVERY_FIELD: &str = "next_delivery_date";

fn weekday_of(iso: u8) -> Option<Weekday> {
    Weekday::from_monday_one_offset(i8::try_from(iso).ok()?).ok()
}

fn iso_weekday(d: Date) -> u8 {
    // `to_monday_one_offset` is 1..=7, so the conversion cannot fail; 0 matches no rule.
    u8::try_from(d.weekday().to_monday_one_offset()).unwrap_or(0)
}

fn overflow(field: &str) -> FieldErrors {
    FieldErrors::single(field, "out_of_range", "日付が範囲外です")
}

/// `d + n` days, or an error naming `field` when the result leaves the calendar.
/// `Span::try_days` is used because `ToSpan::days` panics on large values.
fn add_days(d: Date, n: i64, field: &str) -> Result<Date, FieldErrors> {
    Span::new()
        .try_days(n)
        .and_then(|s| d.checked_add(s))
        .map_err(|_| overflow(field))
}

/// `d + n` days, clamped to `Date::MIN..=Date::MAX` (see the module's overflow policy).
fn add_days_saturating(d: Date, n: i64) -> Date {
    match Span::new().try_days(n) {
        Ok(s) => d.saturating_add(s),
        // Beyond the span range the result is off the calendar in n's direction.
        Err(_) if n < 0 => Date::MIN,
        Err(_) => Date::MAX,
    }
}

impl Cycle {
    /// Checks the ranges; every problem is reported (fields `cycle.every`,
    /// `cycle.weekday`, `cycle.day`).
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::default();
        match *self {
            Cycle::Days { every } => {
                if !(1..=365).contains(&every) {
                    e.add(
                        "cycle.every",
                        "out_of_range",
                        "周期は1〜365日で指定してください",
                    );
                }
            }
            Cycle::Weeks { every, weekday } => {
                if !(1..=52).contains(&every) {
                    e.add(
                        "cycle.every",
                        "out_of_range",
                        "周期は1〜52週で指定してください",
                    );
                }
                if !(1..=7).contains(&weekday) {
                    e.add(
                        "cycle.weekday",
                        "out_of_range",
                        "曜日は1（月）〜7（日）で指定してください",
                    );
                }
            }
            Cycle::Months { every, day } => {
                if !(1..=12).contains(&every) {
                    e.add(
                        "cycle.every",
                        "out_of_range",
                        "周期は1〜12ヶ月で指定してください",
                    );
                }
                if !(1..=31).contains(&day) {
                    e.add("cycle.day", "out_of_range", "日付は1〜31で指定してください");
                }
            }
            Cycle::MonthWeekday {
                every,
                week,
                weekday,
            } => {
                if !(1..=12).contains(&every) {
                    e.add(
                        "cycle.every",
                        "out_of_range",
                        "周期は1〜12ヶ月で指定してください",
                    );
                }
                if !(1..=5).contains(&week) {
                    e.add(
                        "cycle.week",
                        "out_of_range",
                        "第何週は1〜4、または5（最終）で指定してください",
                    );
                }
                if !(1..=7).contains(&weekday) {
                    e.add(
                        "cycle.weekday",
                        "out_of_range",
                        "曜日は1（月）〜7（日）で指定してください",
                    );
                }
            }
        }
        e.into_result()
    }

    /// The cycle's date in the month of `month` (any day of it): the anchor day
    /// (clamped to the month's end) or the Kth weekday. Days and weeks have no
    /// date of their own in a month: `None`.
    fn date_in_month(&self, month: Date) -> Result<Option<Date>, FieldErrors> {
        let first = month.first_of_month();
        match *self {
            Cycle::Days { .. } | Cycle::Weeks { .. } => Ok(None),
            Cycle::Months { day, .. } => {
                // `day` is 1..=31 after validate, so the conversion cannot fail.
                let d = i8::try_from(day).unwrap_or(31).min(first.days_in_month());
                Date::new(first.year(), first.month(), d)
                    .map(Some)
                    .map_err(|_| overflow(NEXT_DELIVERY_FIELD))
            }
            Cycle::MonthWeekday { week, weekday, .. } => {
                let target = weekday_of(weekday).ok_or_else(|| overflow("cycle.weekday"))?;
                let ahead = (i64::from(target.to_monday_zero_offset())
                    - i64::from(first.weekday().to_monday_zero_offset()))
                .rem_euclid(7);
                let first_match = add_days(first, ahead, NEXT_DELIVERY_FIELD)?;
                let mut d = first_match;
                // The Kth one, or the last one for week 5 (a month has 4 or 5).
                for _ in 1..week {
                    match add_days(d, 7, NEXT_DELIVERY_FIELD) {
                        Ok(n) if n.month() == first.month() => d = n,
                        _ => break,
                    }
                }
                Ok(Some(d))
            }
        }
    }

    /// The first delivery date of this cycle on or after `date`: the date itself
    /// for a cycle of days; the next matching weekday for weeks; the anchor day
    /// or the Kth weekday of `date`'s month, or of the next month when that one
    /// has passed. A cycle change keeps the next delivery on or after the current
    /// one this way (a skip or a pause is never undone silently).
    pub fn first_on_or_after(&self, date: Date) -> Result<Date, FieldErrors> {
        self.validate()?;
        match *self {
            Cycle::Days { .. } => Ok(date),
            Cycle::Weeks { weekday, .. } => {
                let target = weekday_of(weekday).ok_or_else(|| overflow("cycle.weekday"))?;
                let ahead = (i64::from(target.to_monday_zero_offset())
                    - i64::from(date.weekday().to_monday_zero_offset()))
                .rem_euclid(7);
                add_days(date, ahead, NEXT_DELIVERY_FIELD)
            }
            Cycle::Months { .. } | Cycle::MonthWeekday { .. } => {
                if let Some(d) = self.date_in_month(date)?
                    && d >= date
                {
                    return Ok(d);
                }
                let next_month = Span::new()
                    .try_months(1)
                    .and_then(|s| date.first_of_month().checked_add(s))
                    .map_err(|_| overflow(NEXT_DELIVERY_FIELD))?;
                self.date_in_month(next_month)?
                    .ok_or_else(|| overflow(NEXT_DELIVERY_FIELD))
            }
        }
    }

    /// The delivery date after `date` by this cycle.
    ///
    /// - Days: `date + N` days.
    /// - Weeks: `date + N` weeks, then forward 0–6 days to the weekday.
    /// - Months: the month N months after `date`'s month, on
    ///   `min(day, days in that month)`. Only the anchor day is used, never `date`'s
    ///   day, which is what keeps 31 Jan → 29 Feb → 31 Mar from drifting.
    ///
    /// Errors: an invalid cycle (the `validate` errors, since a zero cycle would not
    /// move forward) and a result after 9999-12-31 (field `next_delivery_date`).
    /// The result is always strictly after `date`.
    pub fn next_after(&self, date: Date) -> Result<Date, FieldErrors> {
        self.validate()?;
        match *self {
            Cycle::Days { every } => add_days(date, i64::from(every), NEXT_DELIVERY_FIELD),
            Cycle::Weeks { every, weekday } => {
                let d = add_days(date, 7 * i64::from(every), NEXT_DELIVERY_FIELD)?;
                let target = weekday_of(weekday).ok_or_else(|| overflow("cycle.weekday"))?;
                let ahead = (i64::from(target.to_monday_zero_offset())
                    - i64::from(d.weekday().to_monday_zero_offset()))
                .rem_euclid(7);
                add_days(d, ahead, NEXT_DELIVERY_FIELD)
            }
            Cycle::Months { every, .. } | Cycle::MonthWeekday { every, .. } => {
                let first = Span::new()
                    .try_months(i64::from(every))
                    .and_then(|s| date.first_of_month().checked_add(s))
                    .map_err(|_| overflow(NEXT_DELIVERY_FIELD))?;
                self.date_in_month(first)?
                    .ok_or_else(|| overflow(NEXT_DELIVERY_FIELD))
            }
        }
    }

    /// Japanese label for the UI: `30日ごと`, `2週間ごと 月曜日`, `1ヶ月ごと 15日`,
    /// and `1ヶ月ごと 31日（月末）` for day 31, since that day means the month's end
    /// in short months.
    pub fn label(&self) -> String {
        match *self {
            Cycle::Days { every } => format!("{every}日ごと"),
            Cycle::Weeks { every, weekday } => format!(
                "{every}週間ごと {}曜日",
                WEEKDAY_LABELS
                    .get(usize::from(weekday).wrapping_sub(1))
                    .unwrap_or(&"?")
            ),
            Cycle::Months { every, day: 31 } => format!("{every}ヶ月ごと 31日（月末）"),
            Cycle::Months { every, day } => format!("{every}ヶ月ごと {day}日"),
            Cycle::MonthWeekday {
                every,
                week,
                weekday,
            } => format!(
                "{every}ヶ月ごと {}{}曜日",
                if week == 5 {
                    "最終".to_string()
                } else {
                    format!("第{week}")
                },
                WEEKDAY_LABELS
                    .get(usize::from(weekday).wrapping_sub(1))
                    .unwrap_or(&"?")
            ),
        }
    }
}

/// Shop settings the calendar needs (pure data; the store validates them on save).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShippingCalendar {
    /// 最短お届け日の指定: days between the ship date and the earliest delivery
    /// date (0–30). A negative value is treated as 0 so that a derived ship date
    /// can never be after its delivery date.
    pub lead_days: i64,
    /// 発送しない日: weekdays the shop never ships (ISO 1 = Monday … 7 = Sunday);
    /// other numbers match nothing.
    pub no_ship_weekdays: Vec<u8>,
    /// 発送しない日: individual dates (holidays).
    pub no_ship_dates: BTreeSet<Date>,
}

/// How far back a ship date may move before the calendar gives up (a shop that
/// never ships is a configuration error, not a reason to loop).
const MAX_SHIP_SHIFT: i64 = 60;

impl ShippingCalendar {
    fn lead(&self) -> i64 {
        self.lead_days.max(0)
    }

    /// Whether the shop ships on `d` (neither a no-ship weekday nor a no-ship date).
    pub fn is_ship_day(&self, d: Date) -> bool {
        !self.no_ship_weekdays.contains(&iso_weekday(d)) && !self.no_ship_dates.contains(&d)
    }

    /// Ship date for a delivery date: delivery − lead days, then moved *earlier* to
    /// the nearest ship day, so the promised delivery date still holds. When no
    /// ship day exists within `MAX_SHIP_SHIFT` days back, the unmoved date
    /// (delivery − lead days) is returned. Saturates at `Date::MIN`.
    pub fn ship_date_for(&self, delivery: Date) -> Date {
        let base = add_days_saturating(delivery, -self.lead());
        (0..=MAX_SHIP_SHIFT)
            .map_while(|k| {
                Span::new()
                    .try_days(-k)
                    .and_then(|s| base.checked_add(s))
                    .ok()
            })
            .find(|d| self.is_ship_day(*d))
            .unwrap_or(base)
    }

    /// Delivery date synced from a ship date: ship + lead days (no holiday logic:
    /// deliveries happen on any day). Saturates at `Date::MAX`.
    pub fn delivery_date_for(&self, ship: Date) -> Date {
        add_days_saturating(ship, self.lead())
    }

    /// The earliest delivery an order made on `today` can promise: the first
    /// ship day from today on (発送しない日 skipped, up to `MAX_SHIP_SHIFT` days),
    /// plus 最短お届け日.
    pub fn earliest_delivery(&self, today: Date) -> Date {
        let ship = (0..=MAX_SHIP_SHIFT)
            .map_while(|k| add_days(today, k, NEXT_DELIVERY_FIELD).ok())
            .find(|d| self.is_ship_day(*d))
            .unwrap_or(today);
        self.delivery_date_for(ship)
    }
}

/// The dates a subscription's schedule holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// 前回配送予定日
    pub previous_delivery: Option<Date>,
    /// 次回配送予定日
    pub next_delivery: Date,
    /// 次回発送予定日
    pub next_ship: Date,
}

/// Where a pause counts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PauseFrom {
    /// 次回配送予定日
    Next,
    /// 前回配送予定日
    Previous,
}

impl Schedule {
    /// The ship date cannot be after the delivery date (field `next_ship_date`).
    pub fn validate(&self) -> Result<(), FieldErrors> {
        if self.next_ship > self.next_delivery {
            return Err(FieldErrors::single(
                "next_ship_date",
                "after_delivery",
                "次回発送予定日は次回配送予定日以前の日付にしてください",
            ));
        }
        Ok(())
    }

    /// Overdue (the server was down, or the next date was set in the past): the
    /// schedule moved to the earliest delivery an order made on `today` can
    /// promise, or `None` when the next delivery is still feasible. The cycle
    /// continues from the new date.
    pub fn roll_forward(&self, today: Date, cal: &ShippingCalendar) -> Option<Schedule> {
        let earliest = cal.earliest_delivery(today);
        (self.next_delivery < earliest).then(|| self.with_delivery(earliest, cal))
    }

    /// The same schedule with a new next delivery and the ship date derived from it.
    fn with_delivery(&self, next: Date, cal: &ShippingCalendar) -> Schedule {
        Schedule {
            previous_delivery: self.previous_delivery,
            next_delivery: next,
            next_ship: cal.ship_date_for(next),
        }
    }

    /// スキップ: the next delivery moves to the cycle's next delivery after it
    /// (the issue's rule: "the next delivery of the cycle"); the ship date is
    /// re-derived and the previous delivery date is unchanged (nothing was
    /// delivered). The seed's rule — add the gap between the previous and the
    /// next delivery — was used before and is wrong once the next date has
    /// moved without a delivery: after a 休止 or a first skip the previous
    /// date stays behind, the gap grows, and a second skip jumped two cycles
    /// (found by the request automation's tests). On a monthly cycle the gap
    /// also landed a day early after a 30-day month.
    pub fn skip(&self, cycle: &Cycle, cal: &ShippingCalendar) -> Result<Schedule, FieldErrors> {
        Ok(self.with_delivery(cycle.next_after(self.next_delivery)?, cal))
    }

    /// 休止: the next delivery is `days` (1–365, field `days`) after the next or the
    /// previous delivery date (`Previous` without a previous date: field `from`).
    /// Both problems are reported together. The result is not compared with
    /// today or with the current next date: the caller decides what is sensible.
    /// The ship date is re-derived.
    pub fn pause(
        &self,
        days: i64,
        from: PauseFrom,
        cal: &ShippingCalendar,
    ) -> Result<Schedule, FieldErrors> {
        let mut e = FieldErrors::default();
        if !(1..=365).contains(&days) {
            e.add(
                "days",
                "out_of_range",
                "休止期間は1〜365日で指定してください",
            );
        }
        let base = match from {
            PauseFrom::Next => Some(self.next_delivery),
            PauseFrom::Previous => self.previous_delivery,
        };
        if base.is_none() {
            e.add(
                "from",
                "no_previous_delivery",
                "前回配送予定日がないため、前回配送予定日からの休止はできません",
            );
        }
        match (base, e.is_empty()) {
            (Some(base), true) => Ok(self.with_delivery(add_days(base, days, "days")?, cal)),
            _ => Err(e),
        }
    }

    /// After the order for `next_delivery` was created: that date becomes the
    /// previous one, the cycle gives the next, and the ship date is re-derived.
    pub fn advance(&self, cycle: &Cycle, cal: &ShippingCalendar) -> Result<Schedule, FieldErrors> {
        let next = cycle.next_after(self.next_delivery)?;
        Ok(Schedule {
            previous_delivery: Some(self.next_delivery),
            next_delivery: next,
            next_ship: cal.ship_date_for(next),
        })
    }

    /// A new next delivery date; with `sync` the ship date follows
    /// (`ship_date_for`), otherwise it stays. The result is validated.
    pub fn with_next_delivery(
        &self,
        d: Date,
        sync: bool,
        cal: &ShippingCalendar,
    ) -> Result<Schedule, FieldErrors> {
        let s = if sync {
            self.with_delivery(d, cal)
        } else {
            Schedule {
                next_delivery: d,
                ..*self
            }
        };
        s.validate()?;
        Ok(s)
    }

    /// A new next ship date; with `sync` the delivery date becomes ship + lead days
    /// (`delivery_date_for`), otherwise it stays. The ship date is taken as given,
    /// even on a no-ship day: staff set it on purpose. The result is validated.
    pub fn with_next_ship(
        &self,
        d: Date,
        sync: bool,
        cal: &ShippingCalendar,
    ) -> Result<Schedule, FieldErrors> {
        let s = Schedule {
            next_ship: d,
            next_delivery: if sync {
                cal.delivery_date_for(d)
            } else {
                self.next_delivery
            },
            ..*self
        };
        s.validate()?;
        Ok(s)
    }

    /// A new cycle, as customers read it: the next delivery becomes the first
    /// date of the new cycle on or after the current next delivery, so a skip
    /// or a pause is never undone. Counted from the last delivery the new cycle
    /// may ask for an earlier date (a shorter cycle): [`WhenEarlier`] says
    /// whether to take it, keep the later date, or refuse (the error, field
    /// `cycle`, names both dates). The ship date is re-derived when the date moves; without a
    /// previous delivery a cycle of days keeps the schedule as it is (the next
    /// date was chosen explicitly, and so may its ship date have been).
    pub fn change_cycle(
        &self,
        new_cycle: &Cycle,
        cal: &ShippingCalendar,
        when_earlier: WhenEarlier,
    ) -> Result<Schedule, FieldErrors> {
        new_cycle.validate()?;
        let kept = new_cycle.first_on_or_after(self.next_delivery)?;
        let earlier = match self.previous_delivery {
            Some(p) => Some(new_cycle.next_after(p)?).filter(|d| *d < self.next_delivery),
            None => None,
        };
        let next = match earlier {
            Some(e) if when_earlier == WhenEarlier::MoveEarlier => e,
            Some(_) if when_earlier == WhenEarlier::Keep => kept,
            Some(e) => {
                return Err(FieldErrors::single(
                    "cycle",
                    "confirmation_required",
                    format!(
                        "新しいサイクルでは次回配送予定日が {} から {e} に早まります。早めるか（API: \"confirm\": true）、{kept} のままにするか（API: \"keep_next_date\": true）を選んで保存してください",
                        self.next_delivery
                    ),
                ));
            }
            None => kept,
        };
        if next == self.next_delivery {
            return Ok(*self);
        }
        Ok(self.with_delivery(next, cal))
    }

    /// The next `n` (delivery, ship) pairs from the next delivery on, for the
    /// calendar preview. The first pair uses the stored ship date (it may have
    /// been set by hand); later ones are derived. The list stops early, without
    /// error, when the cycle is invalid or the calendar ends.
    pub fn preview(&self, cycle: &Cycle, cal: &ShippingCalendar, n: usize) -> Vec<(Date, Date)> {
        // Capped so a huge `n` cannot abort on allocation; the loop still ends at
        // the calendar's end.
        let mut out = Vec::with_capacity(n.min(64));
        let mut d = self.next_delivery;
        for i in 0..n {
            let ship = if i == 0 {
                self.next_ship
            } else {
                cal.ship_date_for(d)
            };
            out.push((d, ship));
            if i + 1 == n {
                break;
            }
            match cycle.next_after(d) {
                Ok(next) => d = next,
                Err(_) => break,
            }
        }
        out
    }
}

/// What a cycle change does when the new cycle, counted from the last delivery,
/// would move the next delivery earlier than it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WhenEarlier {
    /// Refuse and say both dates: the caller must choose.
    #[default]
    Ask,
    /// Move it earlier (confirmed).
    MoveEarlier,
    /// Keep the first date of the new cycle on or after the current one.
    Keep,
}

/// 自動受注作成日の指定: the run creates the order this many days before the next
/// delivery date or the next ship date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreationBasis {
    Delivery,
    Ship,
}

/// The day the daily run creates the child order: the basis date − `days_before`
/// (a negative value means after it). Saturates at the ends of the calendar.
pub fn creation_date(schedule: &Schedule, basis: CreationBasis, days_before: i64) -> Date {
    let base = match basis {
        CreationBasis::Delivery => schedule.next_delivery,
        CreationBasis::Ship => schedule.next_ship,
    };
    add_days_saturating(base, days_before.saturating_neg())
}

/// Whether the daily run on `today` should create the child order
/// (creation date ≤ today, so a missed day is caught up).
pub fn is_due(schedule: &Schedule, basis: CreationBasis, days_before: i64, today: Date) -> bool {
    creation_date(schedule, basis, days_before) <= today
}

/// The schedule right after the parent order, which is delivery 1 on
/// `first_delivery`: previous = `first_delivery`, next = the cycle after it, ship
/// derived.
pub fn schedule_after_first(
    first_delivery: Date,
    cycle: &Cycle,
    cal: &ShippingCalendar,
) -> Result<Schedule, FieldErrors> {
    let next = cycle.next_after(first_delivery)?;
    Ok(Schedule {
        previous_delivery: Some(first_delivery),
        next_delivery: next,
        next_ship: cal.ship_date_for(next),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::ToSpan;
    use proptest::prelude::*;

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    fn cal() -> ShippingCalendar {
        ShippingCalendar {
            lead_days: 2,
            ..Default::default()
        }
    }

    fn months(every: u8, day: u8) -> Cycle {
        Cycle::Months { every, day }
    }

    fn days(every: u16) -> Cycle {
        Cycle::Days { every }
    }

    fn weeks(every: u8, weekday: u8) -> Cycle {
        Cycle::Weeks { every, weekday }
    }

    /// `k` applications of the cycle from `start`, as strings.
    fn chain(c: Cycle, start: &str, k: usize) -> Vec<String> {
        let mut x = d(start);
        (0..k)
            .map(|_| {
                x = c.next_after(x).unwrap();
                x.to_string()
            })
            .collect()
    }

    fn fields(e: &FieldErrors) -> Vec<&str> {
        e.0.iter().map(|e| e.field.as_str()).collect()
    }

    fn sched(prev: Option<&str>, next: &str, ship: &str) -> Schedule {
        Schedule {
            previous_delivery: prev.map(d),
            next_delivery: d(next),
            next_ship: d(ship),
        }
    }

    // ---- Cycle::validate ----

    #[test]
    fn valid_cycles_at_the_bounds() {
        for c in [
            Cycle::Days { every: 1 },
            Cycle::Days { every: 365 },
            weeks(1, 1),
            weeks(52, 7),
            months(1, 1),
            months(12, 31),
        ] {
            assert_eq!(c.validate(), Ok(()), "{c:?}");
        }
    }

    #[test]
    fn invalid_cycles_are_refused_with_their_field() {
        for (c, want) in [
            (Cycle::Days { every: 0 }, vec!["cycle.every"]),
            (Cycle::Days { every: 366 }, vec!["cycle.every"]),
            (weeks(0, 1), vec!["cycle.every"]),
            (weeks(53, 1), vec!["cycle.every"]),
            (weeks(1, 0), vec!["cycle.weekday"]),
            (weeks(1, 8), vec!["cycle.weekday"]),
            (weeks(0, 9), vec!["cycle.every", "cycle.weekday"]),
            (months(0, 1), vec!["cycle.every"]),
            (months(13, 1), vec!["cycle.every"]),
            (months(1, 0), vec!["cycle.day"]),
            (months(1, 32), vec!["cycle.day"]),
            (months(0, 0), vec!["cycle.every", "cycle.day"]),
        ] {
            let e = c.validate().unwrap_err();
            assert_eq!(fields(&e), want, "{c:?}");
            assert!(e.0.iter().all(|e| e.code == "out_of_range"));
            assert!(e.0.iter().all(|e| e.message.contains("指定してください")));
            // next_after refuses the same cycle instead of looping in place.
            assert_eq!(c.next_after(d("2026-01-01")).unwrap_err(), e);
        }
    }

    // ---- Cycle::next_after ----

    #[test]
    fn days_add_plain_days_across_month_and_leap_day() {
        let c = Cycle::Days { every: 30 };
        assert_eq!(c.next_after(d("2026-11-24")).unwrap(), d("2026-12-24"));
        let one = Cycle::Days { every: 1 };
        assert_eq!(one.next_after(d("2028-02-28")).unwrap(), d("2028-02-29"));
        assert_eq!(one.next_after(d("2027-02-28")).unwrap(), d("2027-03-01"));
        assert_eq!(one.next_after(d("2026-12-31")).unwrap(), d("2027-01-01"));
        assert_eq!(
            Cycle::Days { every: 365 }
                .next_after(d("2028-01-01"))
                .unwrap(),
            d("2028-12-31")
        );
    }

    #[test]
    fn months_keep_their_anchor_day_through_month_ends_and_leap_years() {
        assert_eq!(
            chain(months(1, 31), "2028-01-31", 4),
            ["2028-02-29", "2028-03-31", "2028-04-30", "2028-05-31"]
        );
        assert_eq!(
            chain(months(1, 31), "2027-01-31", 2),
            ["2027-02-28", "2027-03-31"]
        );
        assert_eq!(
            chain(months(1, 30), "2026-11-30", 4),
            ["2026-12-30", "2027-01-30", "2027-02-28", "2027-03-30"]
        );
        assert_eq!(
            chain(months(2, 31), "2026-12-31", 3),
            ["2027-02-28", "2027-04-30", "2027-06-30"]
        );
        assert_eq!(
            chain(months(1, 29), "2028-01-29", 2),
            ["2028-02-29", "2028-03-29"]
        );
        assert_eq!(
            chain(months(12, 29), "2028-02-29", 4),
            ["2029-02-28", "2030-02-28", "2031-02-28", "2032-02-29"]
        );
        // Only the anchor day counts, not the day of the date it starts from.
        assert_eq!(
            months(1, 15).next_after(d("2026-01-20")).unwrap(),
            d("2026-02-15")
        );
        assert_eq!(
            months(1, 15).next_after(d("2026-01-03")).unwrap(),
            d("2026-02-15")
        );
        assert_eq!(
            months(3, 1).next_after(d("2026-11-30")).unwrap(),
            d("2027-02-01")
        );
    }

    #[test]
    fn weeks_land_on_the_weekday() {
        // 2026-11-24 is a Tuesday.
        assert_eq!(
            weeks(2, 2).next_after(d("2026-11-24")).unwrap(),
            d("2026-12-08")
        );
        // Off the weekday (after a pause): N weeks, then forward to the next Friday.
        assert_eq!(
            weeks(1, 5).next_after(d("2026-11-24")).unwrap(),
            d("2026-12-04")
        );
        // Forward, never back: + 1 week is Tue 12-01, the Monday after is 12-07.
        assert_eq!(
            weeks(1, 1).next_after(d("2026-11-24")).unwrap(),
            d("2026-12-07")
        );
        // Every weekday from a Tuesday, one week on: 7..=13 days later.
        for wd in 1..=7u8 {
            let got = weeks(1, wd).next_after(d("2026-11-24")).unwrap();
            assert_eq!(iso_weekday(got), wd);
            let gap = (got - d("2026-11-24")).get_days();
            assert!((7..=13).contains(&gap), "{wd}: {gap}");
        }
        // Across a leap day.
        assert_eq!(
            weeks(1, 2).next_after(d("2028-02-22")).unwrap(),
            d("2028-02-29")
        );
    }

    #[test]
    fn next_after_reports_the_end_of_the_calendar() {
        for c in [Cycle::Days { every: 1 }, weeks(1, 1), months(1, 1)] {
            let e = c.next_after(Date::MAX).unwrap_err();
            assert_eq!(fields(&e), ["next_delivery_date"], "{c:?}");
            assert_eq!(e.0[0].code, "out_of_range");
        }
        // 9999-12-27 is a Monday; the following Friday (9999-12-31) still fits.
        assert_eq!(
            weeks(1, 5).next_after(d("9999-12-20")).unwrap(),
            d("9999-12-31")
        );
        assert!(weeks(1, 1).next_after(d("9999-12-28")).is_err());
        assert!(months(12, 1).next_after(d("9999-01-01")).is_err());
        // The earliest date moves forward like any other.
        assert_eq!(
            Cycle::Days { every: 1 }.next_after(Date::MIN).unwrap(),
            d("-009999-01-02")
        );
    }

    // ---- Cycle::label and JSON ----

    #[test]
    fn labels_are_japanese() {
        assert_eq!(Cycle::Days { every: 30 }.label(), "30日ごと");
        assert_eq!(weeks(2, 1).label(), "2週間ごと 月曜日");
        assert_eq!(weeks(1, 7).label(), "1週間ごと 日曜日");
        assert_eq!(months(1, 15).label(), "1ヶ月ごと 15日");
        assert_eq!(months(2, 30).label(), "2ヶ月ごと 30日");
        assert_eq!(months(1, 31).label(), "1ヶ月ごと 31日（月末）");
        // An invalid weekday does not panic.
        assert_eq!(weeks(1, 0).label(), "1週間ごと ?曜日");
        assert_eq!(weeks(1, 200).label(), "1週間ごと ?曜日");
    }

    #[test]
    fn json_forms_are_stable() {
        for (c, json) in [
            (Cycle::Days { every: 30 }, r#"{"kind":"days","every":30}"#),
            (weeks(2, 1), r#"{"kind":"weeks","every":2,"weekday":1}"#),
            (months(1, 31), r#"{"kind":"months","every":1,"day":31}"#),
        ] {
            assert_eq!(serde_json::to_string(&c).unwrap(), json);
            assert_eq!(serde_json::from_str::<Cycle>(json).unwrap(), c);
        }
        for bad in [
            r#"{"kind":"days","every":-1}"#,
            r#"{"kind":"days","every":30,"day":1}"#,
            r#"{"kind":"years","every":1}"#,
            r#"{"every":1}"#,
        ] {
            assert!(serde_json::from_str::<Cycle>(bad).is_err(), "{bad}");
        }
        assert_eq!(
            serde_json::to_string(&PauseFrom::Next).unwrap(),
            r#""next""#
        );
        assert_eq!(
            serde_json::from_str::<PauseFrom>(r#""previous""#).unwrap(),
            PauseFrom::Previous
        );
    }

    // ---- ShippingCalendar ----

    #[test]
    fn ship_dates_are_delivery_minus_lead_days_without_rules() {
        let c = cal();
        assert_eq!(c.ship_date_for(d("2026-12-10")), d("2026-12-08"));
        assert_eq!(c.ship_date_for(d("2028-03-01")), d("2028-02-28"));
        assert_eq!(c.delivery_date_for(d("2028-02-28")), d("2028-03-01"));
        let same_day = ShippingCalendar::default();
        assert_eq!(same_day.ship_date_for(d("2026-12-10")), d("2026-12-10"));
        assert_eq!(same_day.delivery_date_for(d("2026-12-10")), d("2026-12-10"));
        assert!(same_day.is_ship_day(d("2026-12-10")));
    }

    #[test]
    fn ship_dates_move_earlier_past_weekday_and_date_rules() {
        let mut c = cal();
        // No shipping on Sundays (7) and on 2026-12-05 (a Saturday).
        c.no_ship_weekdays = vec![7];
        c.no_ship_dates.insert(d("2026-12-05"));
        assert!(!c.is_ship_day(d("2026-12-06")), "Sunday");
        assert!(!c.is_ship_day(d("2026-12-05")), "holiday");
        assert!(!c.is_ship_day(d("2026-12-13")), "another Sunday");
        assert!(
            c.is_ship_day(d("2026-12-12")),
            "a Saturday that is no holiday"
        );
        // Delivery Tue 12-08 → ship Sun 12-06 → Sat 12-05 (holiday) → Fri 12-04.
        assert_eq!(c.ship_date_for(d("2026-12-08")), d("2026-12-04"));
        // Delivery Mon 12-07 → Sat 12-05 (holiday) → Fri 12-04.
        assert_eq!(c.ship_date_for(d("2026-12-07")), d("2026-12-04"));
        // Delivery Wed 12-09 → Mon 12-07, a ship day: unmoved.
        assert_eq!(c.ship_date_for(d("2026-12-09")), d("2026-12-07"));
        // Sync back ignores the rules: deliveries happen on any day.
        assert_eq!(c.delivery_date_for(d("2026-12-04")), d("2026-12-06"));
        // Year-end holidays plus weekends: 12-29 … 01-03 off, Sat/Sun off.
        let mut ny = ShippingCalendar {
            lead_days: 1,
            no_ship_weekdays: vec![6, 7],
            ..Default::default()
        };
        for x in ["2026-12-29", "2026-12-30", "2026-12-31", "2027-01-01"] {
            ny.no_ship_dates.insert(d(x));
        }
        // Delivery Mon 2027-01-04 → Sun 01-03 → … → Mon 2026-12-28.
        assert_eq!(ny.ship_date_for(d("2027-01-04")), d("2026-12-28"));
    }

    #[test]
    fn a_shop_that_never_ships_gets_the_unmoved_date() {
        let never = ShippingCalendar {
            lead_days: 1,
            no_ship_weekdays: (1..=7).collect(),
            ..Default::default()
        };
        assert_eq!(never.ship_date_for(d("2026-12-10")), d("2026-12-09"));
        // Sixty days of holidays back from the base: the 61st day back is too far.
        let base = d("2026-12-09");
        let mut long = ShippingCalendar {
            lead_days: 1,
            ..Default::default()
        };
        for k in 0..=MAX_SHIP_SHIFT {
            long.no_ship_dates
                .insert(base.checked_sub(k.days()).unwrap());
        }
        assert_eq!(long.ship_date_for(d("2026-12-10")), base);
        // With 60 days off, day 60 back is still found.
        long.no_ship_dates
            .remove(&base.checked_sub(MAX_SHIP_SHIFT.days()).unwrap());
        assert_eq!(
            long.ship_date_for(d("2026-12-10")),
            base.checked_sub(MAX_SHIP_SHIFT.days()).unwrap()
        );
    }

    #[test]
    fn odd_settings_neither_panic_nor_invert_dates() {
        // A negative lead counts as 0, so ship ≤ delivery still holds.
        let neg = ShippingCalendar {
            lead_days: -5,
            ..Default::default()
        };
        assert_eq!(neg.ship_date_for(d("2026-12-10")), d("2026-12-10"));
        assert_eq!(neg.delivery_date_for(d("2026-12-10")), d("2026-12-10"));
        // Out-of-range weekday numbers match nothing.
        let junk = ShippingCalendar {
            no_ship_weekdays: vec![0, 8, 255],
            ..Default::default()
        };
        assert!(junk.is_ship_day(d("2026-12-10")));
        // Huge leads and the ends of the calendar saturate.
        let huge = ShippingCalendar {
            lead_days: i64::MAX,
            ..Default::default()
        };
        assert_eq!(huge.ship_date_for(d("2026-12-10")), Date::MIN);
        assert_eq!(huge.delivery_date_for(d("2026-12-10")), Date::MAX);
        assert_eq!(cal().ship_date_for(Date::MIN), Date::MIN);
        assert_eq!(cal().delivery_date_for(Date::MAX), Date::MAX);
        let never = ShippingCalendar {
            no_ship_weekdays: (1..=7).collect(),
            ..cal()
        };
        assert_eq!(never.ship_date_for(d("-009999-01-03")), Date::MIN);
    }

    // ---- Schedule ----

    #[test]
    fn schedule_invariant() {
        assert_eq!(sched(None, "2026-12-10", "2026-12-10").validate(), Ok(()));
        assert_eq!(sched(None, "2026-12-10", "2026-12-01").validate(), Ok(()));
        let e = sched(None, "2026-12-10", "2026-12-11")
            .validate()
            .unwrap_err();
        assert_eq!(fields(&e), ["next_ship_date"]);
        assert_eq!(e.0[0].code, "after_delivery");
        assert_eq!(
            e.0[0].message,
            "次回発送予定日は次回配送予定日以前の日付にしてください"
        );
    }

    #[test]
    fn skip_moves_to_the_next_delivery_of_the_cycle() {
        let c = cal();
        let cycle = Cycle::Days { every: 30 };
        let s = sched(Some("2026-11-01"), "2026-11-21", "2026-11-19");
        // One cycle after the next delivery, whatever the previous was.
        let skipped = s.skip(&cycle, &c).unwrap();
        assert_eq!(
            skipped,
            sched(Some("2026-11-01"), "2026-12-21", "2026-12-19")
        );
        // A second skip moves one more cycle, not the grown gap (50 days).
        assert_eq!(
            skipped.skip(&cycle, &c).unwrap().next_delivery,
            d("2027-01-20")
        );
        let first = sched(None, "2026-11-21", "2026-11-19");
        assert_eq!(
            first.skip(&cycle, &c).unwrap(),
            sched(None, "2026-12-21", "2026-12-19")
        );
        let inverted = sched(Some("2026-12-01"), "2026-11-21", "2026-11-19");
        assert_eq!(
            inverted.skip(&months(1, 31), &c).unwrap().next_delivery,
            d("2026-12-31")
        );
        // The ship date is re-derived with the calendar's rules.
        let sundays = ShippingCalendar {
            no_ship_weekdays: vec![7],
            ..cal()
        };
        // 11-15 + 30 = Tue 12-15.
        let s2 = sched(Some("2026-11-01"), "2026-11-15", "2026-11-13");
        // 12-15 − 2 = Sun 12-13 → Sat 12-12.
        assert_eq!(
            s2.skip(&cycle, &sundays).unwrap(),
            sched(Some("2026-11-01"), "2026-12-15", "2026-12-12")
        );
        // Errors: the cycle's own (without previous) and the end of the calendar.
        assert_eq!(
            fields(&first.skip(&Cycle::Days { every: 0 }, &c).unwrap_err()),
            ["cycle.every"]
        );
        let end = Schedule {
            previous_delivery: Some(d("9999-12-01")),
            next_delivery: d("9999-12-20"),
            next_ship: d("9999-12-18"),
        };
        assert_eq!(
            fields(&end.skip(&cycle, &c).unwrap_err()),
            ["next_delivery_date"]
        );
    }

    #[test]
    fn a_monthly_skip_lands_on_the_next_anchor_date() {
        let c = cal();
        // "Monthly on the 26th": 11-26 was delivered, 12-26 is next. The gap
        // (30 days) would give 01-25; the customer expects 01-26.
        let s = sched(Some("2026-11-26"), "2026-12-26", "2026-12-24");
        let skipped = s.skip(&months(1, 26), &c).unwrap();
        assert_eq!(skipped.next_delivery, d("2027-01-26"));
        assert_eq!(skipped.previous_delivery, Some(d("2026-11-26")));
        // The month's end stays the month's end, and every N months keeps N.
        let end = sched(Some("2026-12-31"), "2027-01-31", "2027-01-29");
        assert_eq!(
            end.skip(&months(1, 31), &c).unwrap().next_delivery,
            d("2027-02-28")
        );
        assert_eq!(
            end.skip(&months(2, 31), &c).unwrap().next_delivery,
            d("2027-03-31")
        );
        // A next date moved off the anchor by hand: the next anchor date after it.
        let moved = sched(Some("2026-11-26"), "2026-12-20", "2026-12-18");
        assert_eq!(
            moved.skip(&months(1, 26), &c).unwrap().next_delivery,
            d("2027-01-26")
        );
        // Days and weeks keep the gap rule.
        assert_eq!(
            s.skip(&Cycle::Days { every: 30 }, &c)
                .unwrap()
                .next_delivery,
            d("2027-01-25")
        );
    }

    #[test]
    fn pause_from_next_or_previous() {
        let c = cal();
        let s = sched(Some("2026-11-01"), "2026-11-21", "2026-11-19");
        assert_eq!(
            s.pause(10, PauseFrom::Next, &c).unwrap(),
            sched(Some("2026-11-01"), "2026-12-01", "2026-11-29")
        );
        assert_eq!(
            s.pause(10, PauseFrom::Previous, &c).unwrap(),
            sched(Some("2026-11-01"), "2026-11-11", "2026-11-09")
        );
        assert_eq!(
            s.pause(1, PauseFrom::Next, &c).unwrap().next_delivery,
            d("2026-11-22")
        );
        assert_eq!(
            s.pause(365, PauseFrom::Next, &c).unwrap().next_delivery,
            d("2027-11-21")
        );
        // The ship date follows the calendar.
        let fridays_off = ShippingCalendar {
            no_ship_weekdays: vec![5],
            ..cal()
        };
        // 2026-12-06 − 2 = Fri 12-04 → Thu 12-03.
        assert_eq!(
            s.pause(15, PauseFrom::Next, &fridays_off)
                .unwrap()
                .next_ship,
            d("2026-12-03")
        );
    }

    #[test]
    fn pause_errors() {
        let c = cal();
        let s = sched(Some("2026-11-01"), "2026-11-21", "2026-11-19");
        for days in [0, -1, 366, i64::MIN, i64::MAX] {
            let e = s.pause(days, PauseFrom::Next, &c).unwrap_err();
            assert_eq!(fields(&e), ["days"], "{days}");
            assert_eq!(e.0[0].code, "out_of_range");
        }
        let first = sched(None, "2026-11-21", "2026-11-19");
        let e = first.pause(5, PauseFrom::Previous, &c).unwrap_err();
        assert_eq!(fields(&e), ["from"]);
        assert_eq!(e.0[0].code, "no_previous_delivery");
        // Both problems at once.
        let e = first.pause(0, PauseFrom::Previous, &c).unwrap_err();
        assert_eq!(fields(&e), ["days", "from"]);
        // Without a previous date, pausing from the next one works.
        assert!(first.pause(5, PauseFrom::Next, &c).is_ok());
        // Off the calendar.
        let end = sched(None, "9999-12-20", "9999-12-18");
        assert_eq!(
            fields(&end.pause(30, PauseFrom::Next, &c).unwrap_err()),
            ["days"]
        );
    }

    #[test]
    fn advance_moves_next_to_previous() {
        let c = cal();
        let s = sched(Some("2026-11-01"), "2026-11-21", "2026-11-19");
        assert_eq!(
            s.advance(&Cycle::Days { every: 30 }, &c).unwrap(),
            sched(Some("2026-11-21"), "2026-12-21", "2026-12-19")
        );
        let m = sched(Some("2027-12-31"), "2028-01-31", "2028-01-29");
        let a = m.advance(&months(1, 31), &c).unwrap();
        assert_eq!(a, sched(Some("2028-01-31"), "2028-02-29", "2028-02-27"));
        let b = a.advance(&months(1, 31), &c).unwrap();
        assert_eq!(b, sched(Some("2028-02-29"), "2028-03-31", "2028-03-29"));
        assert!(s.advance(&months(1, 0), &c).is_err());
    }

    #[test]
    fn next_dates_sync_in_both_directions() {
        let c = cal();
        let s = sched(Some("2026-11-01"), "2026-11-21", "2026-11-19");
        // Delivery → ship.
        let synced = s.with_next_delivery(d("2026-12-01"), true, &c).unwrap();
        assert_eq!(
            synced,
            sched(Some("2026-11-01"), "2026-12-01", "2026-11-29")
        );
        let kept = s.with_next_delivery(d("2026-12-01"), false, &c).unwrap();
        assert_eq!(kept, sched(Some("2026-11-01"), "2026-12-01", "2026-11-19"));
        let e = s
            .with_next_delivery(d("2026-11-10"), false, &c)
            .unwrap_err();
        assert_eq!(fields(&e), ["next_ship_date"]);
        // With sync an earlier delivery is fine: the ship date follows it.
        assert_eq!(
            s.with_next_delivery(d("2026-11-10"), true, &c)
                .unwrap()
                .next_ship,
            d("2026-11-08")
        );
        // Ship → delivery (no holiday logic for deliveries).
        let by_ship = s.with_next_ship(d("2026-11-25"), true, &c).unwrap();
        assert_eq!(
            by_ship,
            sched(Some("2026-11-01"), "2026-11-27", "2026-11-25")
        );
        let only_ship = s.with_next_ship(d("2026-11-15"), false, &c).unwrap();
        assert_eq!(
            only_ship,
            sched(Some("2026-11-01"), "2026-11-21", "2026-11-15")
        );
        // A ship date on the delivery day is allowed; after it is not.
        assert!(s.with_next_ship(d("2026-11-21"), false, &c).is_ok());
        assert_eq!(
            fields(&s.with_next_ship(d("2026-11-25"), false, &c).unwrap_err()),
            ["next_ship_date"]
        );
        // A ship date set by hand is kept even on a no-ship day.
        let sundays = ShippingCalendar {
            no_ship_weekdays: vec![7],
            ..cal()
        };
        assert_eq!(
            s.with_next_ship(d("2026-11-15"), true, &sundays)
                .unwrap()
                .next_ship,
            d("2026-11-15")
        );
    }

    #[test]
    fn change_cycle_never_moves_the_next_delivery_earlier_unconfirmed() {
        let c = cal();
        // Last delivery 11-01 (a Sunday), next 11-21.
        let s = sched(Some("2026-11-01"), "2026-11-21", "2026-11-19");
        // Every 2 months on the 31st: the first such date on or after 11-21
        // is 11-30 (November's end), not 2027-01-31 (previous + 2 months).
        assert_eq!(
            s.change_cycle(&months(2, 31), &c, WhenEarlier::Ask)
                .unwrap(),
            sched(Some("2026-11-01"), "2026-11-30", "2026-11-28")
        );
        // Weekly on Monday, counted from the last delivery, is 11-09: earlier
        // than 11-21, so it needs the confirmation and says both dates.
        let e = s
            .change_cycle(&weeks(1, 1), &c, WhenEarlier::Ask)
            .unwrap_err();
        assert_eq!(fields(&e), ["cycle"]);
        let msg = e.to_string();
        assert!(
            msg.contains("2026-11-09") && msg.contains("2026-11-23"),
            "{msg}"
        );
        assert_eq!(
            s.change_cycle(&weeks(1, 1), &c, WhenEarlier::MoveEarlier)
                .unwrap(),
            sched(Some("2026-11-01"), "2026-11-09", "2026-11-07")
        );
        // A skip is kept: next moved from 12-01 to 12-31 on a 30-day cycle; a
        // 20-day cycle would give 11-21 again, so unconfirmed it is refused …
        let skipped = sched(Some("2026-11-01"), "2026-12-31", "2026-12-29");
        assert!(
            skipped
                .change_cycle(&days(20), &c, WhenEarlier::Ask)
                .is_err()
        );
        // … and a longer cycle keeps the skipped date: days keep the date itself.
        assert_eq!(
            skipped
                .change_cycle(&days(60), &c, WhenEarlier::Ask)
                .unwrap(),
            skipped
        );
        // Without a previous delivery the schedule is kept as it is, ship included.
        let first = sched(None, "2026-11-21", "2026-11-10");
        assert_eq!(
            first.change_cycle(&days(7), &c, WhenEarlier::Ask).unwrap(),
            first
        );
        // … and a weekday cycle moves it forward to its weekday (11-21 is a Saturday).
        assert_eq!(
            first
                .change_cycle(&weeks(1, 1), &c, WhenEarlier::Ask)
                .unwrap()
                .next_delivery,
            d("2026-11-23")
        );
        // An invalid cycle is refused even when nothing would be recomputed.
        assert_eq!(
            fields(
                &first
                    .change_cycle(&weeks(0, 1), &c, WhenEarlier::Ask)
                    .unwrap_err()
            ),
            ["cycle.every"]
        );
        assert!(
            s.change_cycle(&months(1, 32), &c, WhenEarlier::Ask)
                .is_err()
        );
    }

    #[test]
    fn overdue_schedules_roll_forward_to_the_earliest_feasible_delivery() {
        // Lead 2 days; no shipping on Sundays (7) and on 2027-02-11.
        let c = ShippingCalendar {
            lead_days: 2,
            no_ship_weekdays: vec![7],
            no_ship_dates: [d("2027-02-11")].into_iter().collect(),
        };
        // Thursday 2027-02-11 is a holiday: the first ship day is Fri 02-12.
        assert_eq!(c.earliest_delivery(d("2027-02-11")), d("2027-02-14"));
        // Sunday 02-14: ship Monday 02-15.
        assert_eq!(c.earliest_delivery(d("2027-02-14")), d("2027-02-17"));
        let s = sched(Some("2027-01-10"), "2027-02-09", "2027-02-05");
        let rolled = s.roll_forward(d("2027-02-11"), &c).unwrap();
        assert_eq!(
            rolled,
            sched(Some("2027-01-10"), "2027-02-14", "2027-02-12")
        );
        // Still feasible (Saturday 02-06 ships, delivery 02-08): untouched.
        assert_eq!(s.roll_forward(d("2027-02-06"), &c), None);
        assert_eq!(s.roll_forward(d("2027-02-05"), &c), None);
        // Sunday 02-07 does not ship: Monday's parcel arrives 02-10, too late.
        assert_eq!(
            s.roll_forward(d("2027-02-07"), &c).unwrap().next_delivery,
            d("2027-02-10")
        );
    }

    #[test]
    fn month_weekday_cycles_land_on_the_kth_weekday() {
        let second_tuesday = Cycle::MonthWeekday {
            every: 1,
            week: 2,
            weekday: 2,
        };
        assert_eq!(second_tuesday.label(), "1ヶ月ごと 第2火曜日");
        // 2027-01: Tuesdays are 5, 12, 19, 26.
        assert_eq!(
            second_tuesday.next_after(d("2026-12-08")).unwrap(),
            d("2027-01-12")
        );
        assert_eq!(
            second_tuesday.next_after(d("2027-01-12")).unwrap(),
            d("2027-02-09")
        );
        let last_friday = Cycle::MonthWeekday {
            every: 2,
            week: 5,
            weekday: 5,
        };
        assert_eq!(last_friday.label(), "2ヶ月ごと 最終金曜日");
        // 2027-01 has five Fridays (1 … 29); 2027-03 has four (5 … 26).
        assert_eq!(
            last_friday.next_after(d("2026-11-27")).unwrap(),
            d("2027-01-29")
        );
        assert_eq!(
            last_friday.next_after(d("2027-01-29")).unwrap(),
            d("2027-03-26")
        );
        // First on or after: this month's when still ahead, else next month's.
        assert_eq!(
            second_tuesday.first_on_or_after(d("2027-01-12")).unwrap(),
            d("2027-01-12")
        );
        assert_eq!(
            second_tuesday.first_on_or_after(d("2027-01-13")).unwrap(),
            d("2027-02-09")
        );
        // A skip moves to the next month's Kth weekday.
        let s = sched(Some("2026-12-08"), "2027-01-12", "2027-01-10");
        assert_eq!(
            s.skip(&second_tuesday, &cal()).unwrap().next_delivery,
            d("2027-02-09")
        );
        let bad = Cycle::MonthWeekday {
            every: 0,
            week: 6,
            weekday: 8,
        };
        assert_eq!(
            fields(&bad.validate().unwrap_err()),
            ["cycle.every", "cycle.week", "cycle.weekday"]
        );
        let json = serde_json::to_string(&second_tuesday).unwrap();
        assert_eq!(
            json,
            r#"{"kind":"month_weekday","every":1,"week":2,"weekday":2}"#
        );
    }

    #[test]
    fn preview_lists_the_coming_deliveries() {
        let c = cal();
        let s = schedule_after_first(d("2027-01-31"), &months(1, 31), &c).unwrap();
        let p = s.preview(&months(1, 31), &c, 6);
        let got: Vec<_> = p.iter().map(|(a, b)| format!("{a}/{b}")).collect();
        assert_eq!(
            got,
            [
                "2027-02-28/2027-02-26",
                "2027-03-31/2027-03-29",
                "2027-04-30/2027-04-28",
                "2027-05-31/2027-05-29",
                "2027-06-30/2027-06-28",
                "2027-07-31/2027-07-29",
            ]
        );
        assert!(s.preview(&months(1, 31), &c, 0).is_empty());
        // The first pair shows the stored (possibly hand-set) ship date.
        let manual = Schedule {
            next_ship: d("2027-02-20"),
            ..s
        };
        let p = manual.preview(&months(1, 31), &c, 2);
        assert_eq!(p[0], (d("2027-02-28"), d("2027-02-20")));
        assert_eq!(p[1], (d("2027-03-31"), d("2027-03-29")));
        // An invalid cycle or the calendar's end stops the list early.
        assert_eq!(s.preview(&months(0, 31), &c, 6).len(), 1);
        let late = sched(None, "9995-06-01", "9995-05-30");
        assert_eq!(late.preview(&months(12, 1), &c, usize::MAX).len(), 5);
    }

    // ---- creation date ----

    #[test]
    fn creation_date_counts_back_from_either_basis() {
        let s = schedule_after_first(d("2027-01-31"), &months(1, 31), &cal()).unwrap();
        assert_eq!(s.previous_delivery, Some(d("2027-01-31")));
        assert_eq!(s.next_delivery, d("2027-02-28"));
        assert_eq!(s.next_ship, d("2027-02-26"));
        assert_eq!(
            creation_date(&s, CreationBasis::Delivery, 5),
            d("2027-02-23")
        );
        assert_eq!(creation_date(&s, CreationBasis::Ship, 5), d("2027-02-21"));
        assert_eq!(
            creation_date(&s, CreationBasis::Delivery, 0),
            d("2027-02-28")
        );
        assert!(!is_due(&s, CreationBasis::Delivery, 5, d("2027-02-22")));
        assert!(is_due(&s, CreationBasis::Delivery, 5, d("2027-02-23")));
        assert!(is_due(&s, CreationBasis::Delivery, 5, d("2027-03-10")));
        assert!(!is_due(&s, CreationBasis::Ship, 5, d("2027-02-20")));
        assert!(is_due(&s, CreationBasis::Ship, 5, d("2027-02-21")));
        // Extreme settings saturate instead of panicking.
        assert_eq!(
            creation_date(&s, CreationBasis::Delivery, i64::MAX),
            Date::MIN
        );
        assert_eq!(
            creation_date(&s, CreationBasis::Delivery, i64::MIN),
            Date::MAX
        );
        assert!(is_due(&s, CreationBasis::Ship, i64::MAX, Date::MIN));
    }

    #[test]
    fn first_schedule_follows_the_cycle_and_calendar() {
        let sundays = ShippingCalendar {
            no_ship_weekdays: vec![7],
            ..cal()
        };
        // 2026-11-24 (Tue) + 2 weeks → Tue 12-08; ship 12-06 is a Sunday → 12-05.
        let s = schedule_after_first(d("2026-11-24"), &weeks(2, 2), &sundays).unwrap();
        assert_eq!(s, sched(Some("2026-11-24"), "2026-12-08", "2026-12-05"));
        assert!(schedule_after_first(d("2026-11-24"), &weeks(2, 9), &sundays).is_err());
        assert!(schedule_after_first(Date::MAX, &weeks(1, 1), &sundays).is_err());
    }

    // ---- properties ----

    fn date_in(years: std::ops::Range<i16>) -> impl Strategy<Value = Date> {
        (years, 1i8..=12, 1i8..=31).prop_map(|(y, m, d)| {
            let first = Date::new(y, m, 1).unwrap();
            Date::new(y, m, d.min(first.days_in_month())).unwrap()
        })
    }

    fn any_date() -> impl Strategy<Value = Date> {
        date_in(2000..2100)
    }

    fn any_cycle() -> impl Strategy<Value = Cycle> {
        prop_oneof![
            (1u16..=365).prop_map(|every| Cycle::Days { every }),
            (1u8..=52, 1u8..=7).prop_map(|(every, weekday)| Cycle::Weeks { every, weekday }),
            (1u8..=12, 1u8..=31).prop_map(|(every, day)| Cycle::Months { every, day }),
            (1u8..=12, 1u8..=5, 1u8..=7).prop_map(|(every, week, weekday)| Cycle::MonthWeekday {
                every,
                week,
                weekday
            }),
        ]
    }

    /// A calendar whose holidays are offsets from `around`, so they actually hit
    /// the dates under test (random dates over a century rarely would).
    fn calendar_around(around: Date) -> impl Strategy<Value = ShippingCalendar> {
        (
            0i64..=30,
            proptest::collection::vec(1u8..=7, 0..7),
            proptest::collection::vec(-100i64..100, 0..40),
        )
            .prop_map(move |(lead, wd, offsets)| ShippingCalendar {
                lead_days: lead,
                no_ship_weekdays: wd,
                no_ship_dates: offsets
                    .into_iter()
                    .map(|o| around.checked_add(o.days()).unwrap())
                    .collect(),
            })
    }

    fn month_index(x: Date) -> i32 {
        i32::from(x.year()) * 12 + i32::from(x.month())
    }

    proptest! {
        // (1) Monthly with anchor day D never drifts, whatever the start date.
        #[test]
        fn monthly_never_drifts(start in any_date(), day in 1u8..=31, every in 1u8..=12, k in 1usize..40) {
            let c = Cycle::Months { every, day };
            let mut x = start;
            for _ in 0..k {
                let next = c.next_after(x).unwrap();
                prop_assert_eq!(month_index(next) - month_index(x), i32::from(every));
                let want = i8::try_from(day).unwrap().min(next.days_in_month());
                prop_assert_eq!(next.day(), want);
                x = next;
            }
        }

        // (2) next_after is strictly increasing for every valid cycle.
        #[test]
        fn next_after_is_strictly_later(date in any_date(), c in any_cycle()) {
            prop_assert!(c.next_after(date).unwrap() > date);
        }

        // (3) Weeks land on the weekday, N weeks + 0..=6 days later.
        #[test]
        fn weekly_lands_on_its_weekday(date in any_date(), every in 1u8..=52, weekday in 1u8..=7) {
            let next = Cycle::Weeks { every, weekday }.next_after(date).unwrap();
            prop_assert_eq!(iso_weekday(next), weekday);
            let gap = i64::from(date.until(next).unwrap().get_days());
            let min = 7 * i64::from(every);
            prop_assert!((min..=min + 6).contains(&gap));
        }

        // (4) The ship date is early enough, and it is the latest ship day within
        // 60 days before delivery − lead days when there is one.
        #[test]
        fn ship_dates_are_early_enough_and_ship_days(
            (delivery, cal) in any_date().prop_flat_map(|x| (Just(x), calendar_around(x)))
        ) {
            let ship = cal.ship_date_for(delivery);
            let base = delivery.checked_sub(cal.lead_days.days()).unwrap();
            prop_assert!(ship <= base);
            let window: Vec<Date> = (0..=MAX_SHIP_SHIFT)
                .map(|k| base.checked_sub(k.days()).unwrap())
                .collect();
            match window.iter().find(|x| cal.is_ship_day(**x)) {
                Some(latest) => {
                    prop_assert!(cal.is_ship_day(ship));
                    prop_assert_eq!(ship, *latest);
                }
                None => prop_assert_eq!(ship, base),
            }
            prop_assert!(cal.delivery_date_for(ship) <= delivery);
        }

        // (5) Skip moves the next delivery to the cycle's next delivery after
        // it, whatever the previous date, and keeps ship ≤ delivery.
        #[test]
        fn skip_moves_later_and_keeps_the_order(
            (next, cal) in any_date().prop_flat_map(|x| (Just(x), calendar_around(x))),
            gap in proptest::option::of(-30i64..120),
            c in any_cycle(),
        ) {
            let s = Schedule {
                previous_delivery: gap.map(|g| next.checked_sub(g.days()).unwrap()),
                next_delivery: next,
                next_ship: cal.ship_date_for(next),
            };
            let k = s.skip(&c, &cal).unwrap();
            prop_assert!(k.next_delivery > s.next_delivery);
            prop_assert!(k.next_ship <= k.next_delivery);
            prop_assert_eq!(k.previous_delivery, s.previous_delivery);
            prop_assert!(k.validate().is_ok());
            prop_assert_eq!(k.next_delivery, c.next_after(next).unwrap());
        }

        // (6) Preview delivery dates strictly increase; ship dates never pass them.
        #[test]
        fn previews_increase(
            (date, cal) in any_date().prop_flat_map(|x| (Just(x), calendar_around(x))),
            c in any_cycle(),
            n in 0usize..12,
        ) {
            let s = schedule_after_first(date, &c, &cal).unwrap();
            let p = s.preview(&c, &cal, n);
            prop_assert_eq!(p.len(), n);
            prop_assert!(p.windows(2).all(|w| w[0].0 < w[1].0));
            prop_assert!(p.iter().all(|(d, sh)| sh <= d));
            prop_assert!(p.iter().skip(1).all(|(d, sh)| *sh == cal.ship_date_for(*d)));
        }

        // No input panics, over the whole calendar and any raw numbers.
        #[test]
        fn nothing_panics_anywhere(
            date in date_in(-9999..10000),
            every in any::<u16>(),
            small in any::<u8>(),
            day in any::<u8>(),
            lead in any::<i64>(),
            days in any::<i64>(),
            from_prev in any::<bool>(),
        ) {
            let cal = ShippingCalendar { lead_days: lead, no_ship_weekdays: vec![small], ..Default::default() };
            for c in [
                Cycle::Days { every },
                Cycle::Weeks { every: small, weekday: day },
                Cycle::Months { every: small, day },
            ] {
                if let Ok(next) = c.next_after(date) {
                    prop_assert!(next > date);
                }
                let _ = c.label();
                let s = Schedule { previous_delivery: Some(date), next_delivery: date, next_ship: date };
                let _ = s.skip(&c, &cal);
                let _ = s.advance(&c, &cal);
                let _ = s.change_cycle(&c, &cal, WhenEarlier::MoveEarlier);
                for w in [WhenEarlier::Ask, WhenEarlier::Keep] {
                    if let Ok(k) = s.change_cycle(&c, &cal, w) {
                        prop_assert!(k.next_delivery >= s.next_delivery, "unconfirmed never earlier");
                    }
                }
                let _ = s.preview(&c, &cal, 3);
                let from = if from_prev { PauseFrom::Previous } else { PauseFrom::Next };
                if let Ok(p) = s.pause(days, from, &cal) {
                    prop_assert!(p.next_ship <= p.next_delivery);
                }
            }
            prop_assert!(cal.ship_date_for(date) <= date);
            prop_assert!(cal.delivery_date_for(date) >= date);
            let s = Schedule { previous_delivery: None, next_delivery: date, next_ship: date };
            let _ = is_due(&s, CreationBasis::Delivery, days, date);
            let _ = is_due(&s, CreationBasis::Ship, days, date);
        }
    }
}
