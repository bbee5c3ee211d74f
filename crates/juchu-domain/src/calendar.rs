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
//! - **Skip** (スキップ) adds the gap between the previous and the next delivery date
//!   to the next one; **pause** (休止) puts the next delivery N days after the next
//!   or the previous delivery date.

use crate::error::FieldErrors;
use jiff::ToSpan;
use jiff::civil::{Date, Weekday};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// How often a subscription delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Cycle {
    /// Every N days (1–365).
    Days { every: u16 },
    /// Every N weeks (1–52) on a weekday (ISO: 1 = Monday … 7 = Sunday).
    Weeks { every: u8, weekday: u8 },
    /// Every N months (1–12) on a day of the month (1–31; a shorter month uses its
    /// last day).
    Months { every: u8, day: u8 },
}

const WEEKDAY_LABELS: [&str; 7] = ["月", "火", "水", "木", "金", "土", "日"];

fn weekday_of(iso: u8) -> Option<Weekday> {
    Weekday::from_monday_one_offset(i8::try_from(iso).ok()?).ok()
}

fn overflow(field: &str) -> FieldErrors {
    FieldErrors::single(field, "out_of_range", "日付が範囲外です")
}

fn add_days(d: Date, n: i64, field: &str) -> Result<Date, FieldErrors> {
    d.checked_add(n.days()).map_err(|_| overflow(field))
}

impl Cycle {
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
        }
        e.into_result()
    }

    /// The delivery date after `date` by this cycle.
    pub fn next_after(&self, date: Date) -> Result<Date, FieldErrors> {
        self.validate()?;
        match *self {
            Cycle::Days { every } => add_days(date, i64::from(every), "next_delivery_date"),
            Cycle::Weeks { every, weekday } => {
                let d = add_days(date, 7 * i64::from(every), "next_delivery_date")?;
                let target = weekday_of(weekday).ok_or_else(|| overflow("cycle.weekday"))?;
                let ahead = (i64::from(target.to_monday_zero_offset())
                    - i64::from(d.weekday().to_monday_zero_offset()))
                .rem_euclid(7);
                add_days(d, ahead, "next_delivery_date")
            }
            Cycle::Months { every, day } => {
                let first = date
                    .first_of_month()
                    .checked_add(i64::from(every).months())
                    .map_err(|_| overflow("next_delivery_date"))?;
                let d = i8::try_from(day).unwrap_or(31).min(first.days_in_month());
                Date::new(first.year(), first.month(), d)
                    .map_err(|_| overflow("next_delivery_date"))
            }
        }
    }

    /// Japanese label, e.g. 30日ごと, 2週間ごと 月曜日, 1ヶ月ごと 15日.
    pub fn label(&self) -> String {
        match *self {
            Cycle::Days { every } => format!("{every}日ごと"),
            Cycle::Weeks { every, weekday } => format!(
                "{every}週間ごと {}曜日",
                WEEKDAY_LABELS
                    .get(usize::from(weekday).wrapping_sub(1))
                    .unwrap_or(&"?")
            ),
            Cycle::Months { every, day } if day >= 31 => format!("{every}ヶ月ごと 末日"),
            Cycle::Months { every, day } => format!("{every}ヶ月ごと {day}日"),
        }
    }
}

/// Shop settings the calendar needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShippingCalendar {
    /// 最短お届け日の指定: days between the ship date and the earliest delivery.
    pub lead_days: i64,
    /// 発送しない曜日 (ISO 1 = Monday … 7 = Sunday).
    pub no_ship_weekdays: Vec<u8>,
    /// 発送しない日 (holidays).
    pub no_ship_dates: BTreeSet<Date>,
}

/// How far back a ship date may move before the calendar gives up (a shop that
/// never ships is a configuration error, not a reason to loop).
const MAX_SHIP_SHIFT: i64 = 60;

impl ShippingCalendar {
    pub fn is_ship_day(&self, d: Date) -> bool {
        let iso = d.weekday().to_monday_one_offset() as u8;
        !self.no_ship_weekdays.contains(&iso) && !self.no_ship_dates.contains(&d)
    }

    /// Ship date for a delivery date: delivery − lead days, then earlier to the
    /// nearest ship day.
    pub fn ship_date_for(&self, delivery: Date) -> Date {
        let base = delivery
            .checked_sub(self.lead_days.days())
            .unwrap_or(delivery);
        let mut d = base;
        for _ in 0..=MAX_SHIP_SHIFT {
            if self.is_ship_day(d) {
                return d;
            }
            match d.yesterday() {
                Ok(y) => d = y,
                Err(_) => break,
            }
        }
        base
    }

    /// Delivery date synced from a ship date: ship + lead days (deliveries happen
    /// on any day).
    pub fn delivery_date_for(&self, ship: Date) -> Date {
        ship.checked_add(self.lead_days.days()).unwrap_or(ship)
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
    /// The ship date cannot be after the delivery date.
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

    fn with_delivery(&self, next: Date, cal: &ShippingCalendar) -> Schedule {
        Schedule {
            previous_delivery: self.previous_delivery,
            next_delivery: next,
            next_ship: cal.ship_date_for(next),
        }
    }

    /// スキップ: the next delivery moves by the gap between the previous and the
    /// next delivery date; without a previous date (or a gap that is not positive)
    /// it moves by one cycle.
    pub fn skip(&self, cycle: &Cycle, cal: &ShippingCalendar) -> Result<Schedule, FieldErrors> {
        let gap = self
            .previous_delivery
            .map(|p| i64::from((self.next_delivery - p).get_days()))
            .filter(|g| *g > 0);
        let next = match gap {
            Some(g) => add_days(self.next_delivery, g, "next_delivery_date")?,
            None => cycle.next_after(self.next_delivery)?,
        };
        Ok(self.with_delivery(next, cal))
    }

    /// 休止: the next delivery is `days` (1–365) after the next or the previous
    /// delivery date.
    pub fn pause(
        &self,
        days: i64,
        from: PauseFrom,
        cal: &ShippingCalendar,
    ) -> Result<Schedule, FieldErrors> {
        if !(1..=365).contains(&days) {
            return Err(FieldErrors::single(
                "days",
                "out_of_range",
                "休止期間は1〜365日で指定してください",
            ));
        }
        let base = match from {
            PauseFrom::Next => self.next_delivery,
            PauseFrom::Previous => self.previous_delivery.ok_or_else(|| {
                FieldErrors::single(
                    "from",
                    "no_previous_delivery",
                    "前回配送予定日がないため、前回配送予定日からの休止はできません",
                )
            })?,
        };
        Ok(self.with_delivery(add_days(base, days, "days")?, cal))
    }

    /// After the order for `next_delivery` was created: that date becomes the
    /// previous one and the cycle gives the next.
    pub fn advance(&self, cycle: &Cycle, cal: &ShippingCalendar) -> Result<Schedule, FieldErrors> {
        let next = cycle.next_after(self.next_delivery)?;
        Ok(Schedule {
            previous_delivery: Some(self.next_delivery),
            next_delivery: next,
            next_ship: cal.ship_date_for(next),
        })
    }

    /// A new next delivery date; with `sync` the ship date follows, otherwise it
    /// stays (and must not be after the new delivery date).
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

    /// A new next ship date; with `sync` the delivery date becomes ship + lead days.
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

    /// A new cycle: the next delivery is recomputed from the previous delivery with
    /// the new cycle when there is one (and it is still ahead of the previous),
    /// otherwise kept.
    pub fn change_cycle(
        &self,
        new_cycle: &Cycle,
        cal: &ShippingCalendar,
    ) -> Result<Schedule, FieldErrors> {
        new_cycle.validate()?;
        match self.previous_delivery {
            Some(p) => Ok(self.with_delivery(new_cycle.next_after(p)?, cal)),
            None => Ok(*self),
        }
    }

    /// The next `n` (delivery, ship) dates from the next delivery on.
    pub fn preview(&self, cycle: &Cycle, cal: &ShippingCalendar, n: usize) -> Vec<(Date, Date)> {
        let mut out = Vec::with_capacity(n);
        let mut d = self.next_delivery;
        for i in 0..n {
            let ship = if i == 0 {
                self.next_ship
            } else {
                cal.ship_date_for(d)
            };
            out.push((d, ship));
            match cycle.next_after(d) {
                Ok(next) => d = next,
                Err(_) => break,
            }
        }
        out
    }
}

/// 自動受注作成日の指定: the run creates the order this many days before the next
/// delivery date or the next ship date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreationBasis {
    Delivery,
    Ship,
}

pub fn creation_date(schedule: &Schedule, basis: CreationBasis, days_before: i64) -> Date {
    let base = match basis {
        CreationBasis::Delivery => schedule.next_delivery,
        CreationBasis::Ship => schedule.next_ship,
    };
    base.checked_sub(days_before.days()).unwrap_or(base)
}

pub fn is_due(schedule: &Schedule, basis: CreationBasis, days_before: i64, today: Date) -> bool {
    creation_date(schedule, basis, days_before) <= today
}

/// The schedule right after the parent order, which is delivery 1 on `first_delivery`.
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

    #[test]
    fn months_keep_their_anchor_day() {
        let c = Cycle::Months { every: 1, day: 31 };
        let mut x = d("2028-01-31");
        let mut got = vec![];
        for _ in 0..4 {
            x = c.next_after(x).unwrap();
            got.push(x.to_string());
        }
        assert_eq!(
            got,
            ["2028-02-29", "2028-03-31", "2028-04-30", "2028-05-31"]
        );
        assert_eq!(
            Cycle::Months { every: 1, day: 31 }
                .next_after(d("2027-01-31"))
                .unwrap(),
            d("2027-02-28")
        );
        assert_eq!(
            Cycle::Months { every: 1, day: 30 }
                .next_after(d("2026-11-30"))
                .unwrap(),
            d("2026-12-30")
        );
        assert_eq!(
            Cycle::Months { every: 2, day: 31 }
                .next_after(d("2026-12-31"))
                .unwrap(),
            d("2027-02-28")
        );
        assert_eq!(
            Cycle::Months { every: 12, day: 29 }
                .next_after(d("2028-02-29"))
                .unwrap(),
            d("2029-02-28")
        );
    }

    #[test]
    fn weeks_land_on_the_weekday() {
        // 2026-11-24 is a Tuesday.
        let c = Cycle::Weeks {
            every: 2,
            weekday: 2,
        };
        assert_eq!(c.next_after(d("2026-11-24")).unwrap(), d("2026-12-08"));
        // Moved off the weekday (a pause): forward to the next Friday.
        let fri = Cycle::Weeks {
            every: 1,
            weekday: 5,
        };
        assert_eq!(fri.next_after(d("2026-11-24")).unwrap(), d("2026-12-04"));
        assert_eq!(
            Cycle::Days { every: 30 }
                .next_after(d("2026-11-24"))
                .unwrap(),
            d("2026-12-24")
        );
    }

    #[test]
    fn invalid_cycles_are_refused() {
        for (c, field) in [
            (Cycle::Days { every: 0 }, "cycle.every"),
            (Cycle::Days { every: 366 }, "cycle.every"),
            (
                Cycle::Weeks {
                    every: 1,
                    weekday: 0,
                },
                "cycle.weekday",
            ),
            (
                Cycle::Weeks {
                    every: 53,
                    weekday: 1,
                },
                "cycle.every",
            ),
            (Cycle::Months { every: 0, day: 1 }, "cycle.every"),
            (Cycle::Months { every: 1, day: 32 }, "cycle.day"),
        ] {
            let e = c.validate().unwrap_err();
            assert_eq!(e.0[0].field, field, "{c:?}");
            assert!(c.next_after(d("2026-01-01")).is_err());
        }
        assert!(serde_json::from_str::<Cycle>(r#"{"kind":"days","every":-1}"#).is_err());
        assert_eq!(
            serde_json::from_str::<Cycle>(r#"{"kind":"months","every":1,"day":15}"#).unwrap(),
            Cycle::Months { every: 1, day: 15 }
        );
        assert_eq!(
            Cycle::Months { every: 1, day: 31 }.label(),
            "1ヶ月ごと 末日"
        );
        assert_eq!(
            Cycle::Weeks {
                every: 2,
                weekday: 1
            }
            .label(),
            "2週間ごと 月曜日"
        );
    }

    #[test]
    fn ship_dates_move_earlier_past_days_without_shipping() {
        let mut c = cal();
        assert_eq!(c.ship_date_for(d("2026-12-10")), d("2026-12-08"));
        // No shipping on Sundays (7) and on 2026-12-05 (a Saturday).
        c.no_ship_weekdays = vec![7];
        c.no_ship_dates.insert(d("2026-12-05"));
        // Delivery Tue 12-08 → ship Sun 12-06 → Sat 12-05 (holiday) → Fri 12-04.
        assert_eq!(c.ship_date_for(d("2026-12-08")), d("2026-12-04"));
        assert!(c.is_ship_day(d("2026-12-04")));
        assert_eq!(c.delivery_date_for(d("2026-12-04")), d("2026-12-06"));
        // A shop that never ships: the unmoved date, no endless loop.
        let never = ShippingCalendar {
            lead_days: 1,
            no_ship_weekdays: (1..=7).collect(),
            ..Default::default()
        };
        assert_eq!(never.ship_date_for(d("2026-12-10")), d("2026-12-09"));
    }

    #[test]
    fn skip_pause_and_sync() {
        let c = cal();
        let cycle = Cycle::Days { every: 30 };
        let s = Schedule {
            previous_delivery: Some(d("2026-11-01")),
            next_delivery: d("2026-11-21"),
            next_ship: d("2026-11-19"),
        };
        // The gap (20 days) is added, not the cycle.
        let skipped = s.skip(&cycle, &c).unwrap();
        assert_eq!(skipped.next_delivery, d("2026-12-11"));
        assert_eq!(skipped.next_ship, d("2026-12-09"));
        assert_eq!(skipped.previous_delivery, s.previous_delivery);
        let first = Schedule {
            previous_delivery: None,
            ..s
        };
        assert_eq!(
            first.skip(&cycle, &c).unwrap().next_delivery,
            d("2026-12-21")
        );
        assert_eq!(
            s.pause(10, PauseFrom::Next, &c).unwrap().next_delivery,
            d("2026-12-01")
        );
        assert_eq!(
            s.pause(10, PauseFrom::Previous, &c).unwrap().next_delivery,
            d("2026-11-11")
        );
        assert_eq!(
            s.pause(0, PauseFrom::Next, &c).unwrap_err().0[0].field,
            "days"
        );
        assert_eq!(
            first.pause(5, PauseFrom::Previous, &c).unwrap_err().0[0].field,
            "from"
        );
        let synced = s.with_next_delivery(d("2026-12-01"), true, &c).unwrap();
        assert_eq!(synced.next_ship, d("2026-11-29"));
        let kept = s.with_next_delivery(d("2026-12-01"), false, &c).unwrap();
        assert_eq!(kept.next_ship, d("2026-11-19"));
        assert!(s.with_next_delivery(d("2026-11-10"), false, &c).is_err());
        let by_ship = s.with_next_ship(d("2026-11-25"), true, &c).unwrap();
        assert_eq!(by_ship.next_delivery, d("2026-11-27"));
        assert_eq!(
            s.with_next_ship(d("2026-11-25"), false, &c).unwrap_err().0[0].field,
            "next_ship_date"
        );
        let advanced = s.advance(&cycle, &c).unwrap();
        assert_eq!(advanced.previous_delivery, Some(d("2026-11-21")));
        assert_eq!(advanced.next_delivery, d("2026-12-21"));
        let weekly = s
            .change_cycle(
                &Cycle::Weeks {
                    every: 1,
                    weekday: 1,
                },
                &c,
            )
            .unwrap();
        assert_eq!(
            weekly.next_delivery,
            d("2026-11-09"),
            "previous + one week, a Monday"
        );
    }

    #[test]
    fn creation_date_and_first_schedule() {
        let s = schedule_after_first(
            d("2027-01-31"),
            &Cycle::Months { every: 1, day: 31 },
            &cal(),
        )
        .unwrap();
        assert_eq!(s.previous_delivery, Some(d("2027-01-31")));
        assert_eq!(s.next_delivery, d("2027-02-28"));
        assert_eq!(s.next_ship, d("2027-02-26"));
        assert_eq!(
            creation_date(&s, CreationBasis::Delivery, 5),
            d("2027-02-23")
        );
        assert_eq!(creation_date(&s, CreationBasis::Ship, 5), d("2027-02-21"));
        assert!(!is_due(&s, CreationBasis::Delivery, 5, d("2027-02-22")));
        assert!(is_due(&s, CreationBasis::Delivery, 5, d("2027-02-23")));
        let p = s.preview(&Cycle::Months { every: 1, day: 31 }, &cal(), 6);
        let dates: Vec<_> = p.iter().map(|x| x.0.to_string()).collect();
        assert_eq!(
            dates,
            [
                "2027-02-28",
                "2027-03-31",
                "2027-04-30",
                "2027-05-31",
                "2027-06-30",
                "2027-07-31"
            ]
        );
    }

    fn any_date() -> impl Strategy<Value = Date> {
        (2000i16..2100, 1i8..=12, 1i8..=31).prop_map(|(y, m, d)| {
            let first = Date::new(y, m, 1).unwrap();
            Date::new(y, m, d.min(first.days_in_month())).unwrap()
        })
    }

    fn any_cycle() -> impl Strategy<Value = Cycle> {
        prop_oneof![
            (1u16..=365).prop_map(|every| Cycle::Days { every }),
            (1u8..=52, 1u8..=7).prop_map(|(every, weekday)| Cycle::Weeks { every, weekday }),
            (1u8..=12, 1u8..=31).prop_map(|(every, day)| Cycle::Months { every, day }),
        ]
    }

    fn any_calendar() -> impl Strategy<Value = ShippingCalendar> {
        (0i64..=10, proptest::collection::vec(1u8..=7, 0..3)).prop_map(|(lead, wd)| {
            ShippingCalendar {
                lead_days: lead,
                no_ship_weekdays: wd,
                ..Default::default()
            }
        })
    }

    proptest! {
        #[test]
        fn monthly_never_drifts(start in any_date(), day in 1u8..=31, every in 1u8..=12, k in 1usize..40) {
            let c = Cycle::Months { every, day };
            let mut x = start;
            for _ in 0..k {
                x = c.next_after(x).unwrap();
                let want = i8::try_from(day).unwrap().min(x.days_in_month());
                prop_assert_eq!(x.day(), want);
            }
        }

        #[test]
        fn next_after_is_strictly_later(date in any_date(), c in any_cycle()) {
            prop_assert!(c.next_after(date).unwrap() > date);
        }

        #[test]
        fn weekly_lands_on_its_weekday(date in any_date(), every in 1u8..=52, weekday in 1u8..=7) {
            let next = Cycle::Weeks { every, weekday }.next_after(date).unwrap();
            prop_assert_eq!(next.weekday().to_monday_one_offset() as u8, weekday);
        }

        #[test]
        fn ship_dates_are_early_enough_and_ship_days(delivery in any_date(), cal in any_calendar()) {
            let ship = cal.ship_date_for(delivery);
            prop_assert!(ship <= delivery.checked_sub(cal.lead_days.days()).unwrap());
            if cal.no_ship_weekdays.len() < 7 {
                prop_assert!(cal.is_ship_day(ship));
            }
        }

        #[test]
        fn skip_moves_later_and_keeps_the_order(date in any_date(), gap in 1i64..120, c in any_cycle(), cal in any_calendar()) {
            let next = date.checked_add(gap.days()).unwrap();
            let s = Schedule { previous_delivery: Some(date), next_delivery: next, next_ship: cal.ship_date_for(next) };
            let k = s.skip(&c, &cal).unwrap();
            prop_assert!(k.next_delivery > s.next_delivery);
            prop_assert!(k.next_ship <= k.next_delivery);
        }

        #[test]
        fn previews_increase(date in any_date(), c in any_cycle(), cal in any_calendar()) {
            let s = schedule_after_first(date, &c, &cal).unwrap();
            let p = s.preview(&c, &cal, 6);
            prop_assert_eq!(p.len(), 6);
            prop_assert!(p.windows(2).all(|w| w[0].0 < w[1].0));
            prop_assert!(p.iter().all(|(d, sh)| sh <= d));
        }
    }
}
