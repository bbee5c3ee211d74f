//! Order totals and consumption tax.
//!
//! All prices are tax-included yen (総額表示, required for consumer prices in Japan).
//! Tax is not computed per line: the items, fees and discount are summed per tax rate
//! and the tax contained in each rate's sum is computed once and rounded once
//! (適格請求書 rule: one rounding per rate per invoice). Shipping and payment fees are
//! taxed at the standard rate. A discount is split over the rates in proportion to
//! their item amounts (the remainder of the split goes to the standard rate). Points
//! are a means of payment, not a discount: they lower the amount billed but not the
//! taxable amount.

use crate::status::{RoundingMode, TaxRate};
use serde::{Deserialize, Serialize};

/// A priced line as the pricing needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedLine {
    pub unit_price: i64,
    pub quantity: i64,
    pub tax_rate: TaxRate,
    pub product_shipping_fee: Option<i64>,
    pub product_payment_fee: Option<i64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Item amounts at 10%, tax included.
    pub items_standard: i64,
    /// Item amounts at 8%, tax included.
    pub items_reduced: i64,
    pub shipping_fee: i64,
    pub payment_fee: i64,
    pub discount: i64,
    /// Taxable amount at 10% after the discount share (tax included).
    pub taxable_standard: i64,
    pub taxable_reduced: i64,
    /// Consumption tax contained in `taxable_standard`.
    pub tax_standard: i64,
    pub tax_reduced: i64,
    pub points_used: i64,
    /// What the customer pays.
    pub total: i64,
}

/// Tax contained in a tax-included amount: amount × r / (100 + r), rounded once.
pub fn contained_tax(amount: i64, rate: TaxRate, mode: RoundingMode) -> i64 {
    let r = rate.percent();
    let num = amount * r;
    let den = 100 + r;
    match mode {
        RoundingMode::Floor => num.div_euclid(den),
        RoundingMode::Ceil => -((-num).div_euclid(den)),
        RoundingMode::HalfUp => (2 * num + den).div_euclid(2 * den),
    }
}

/// Shipping fee: the highest product-specific fee among the lines, else the carrier's.
pub fn shipping_fee(lines: &[PricedLine], carrier_fee: Option<i64>) -> i64 {
    lines
        .iter()
        .filter_map(|l| l.product_shipping_fee)
        .max()
        .or(carrier_fee)
        .unwrap_or(0)
}

/// Payment fee: the highest product-specific fee among the lines, else the method's.
pub fn payment_fee(lines: &[PricedLine], method_fee: Option<i64>) -> i64 {
    lines
        .iter()
        .filter_map(|l| l.product_payment_fee)
        .max()
        .or(method_fee)
        .unwrap_or(0)
}

/// Points a shop rate grants on an order: `rate_percent` of the item total
/// (tax included; fees, discount and points used do not count), rounded down.
pub fn points_for(t: &Totals, rate_percent: u32) -> i64 {
    (t.items_standard + t.items_reduced).max(0) * i64::from(rate_percent) / 100
}

pub struct TotalsInput<'a> {
    pub lines: &'a [PricedLine],
    pub shipping_fee: i64,
    pub payment_fee: i64,
    pub discount: i64,
    pub points_used: i64,
    pub rounding: RoundingMode,
}

/// Computes the totals; `Err` names the problem when the discount or points exceed
/// what there is to pay.
pub fn totals(input: &TotalsInput<'_>) -> Result<Totals, &'static str> {
    let mut items_standard = 0i64;
    let mut items_reduced = 0i64;
    for l in input.lines {
        let amount = l
            .unit_price
            .checked_mul(l.quantity)
            .ok_or("金額が大きすぎます")?;
        match l.tax_rate {
            TaxRate::Standard => items_standard += amount,
            TaxRate::Reduced => items_reduced += amount,
        }
    }
    let items = items_standard + items_reduced;
    if input.discount > items {
        return Err("値引きが商品合計を超えています");
    }
    let discount_reduced = if items == 0 {
        0
    } else {
        // i128: amounts times amounts can pass i64 for absurd inputs.
        ((input.discount as i128 * items_reduced as i128) / items as i128) as i64
    };
    let discount_standard = input.discount - discount_reduced;
    let taxable_standard =
        items_standard - discount_standard + input.shipping_fee + input.payment_fee;
    let taxable_reduced = items_reduced - discount_reduced;
    let gross = taxable_standard + taxable_reduced;
    if input.points_used > gross {
        return Err("利用ポイントがお支払い金額を超えています");
    }
    Ok(Totals {
        items_standard,
        items_reduced,
        shipping_fee: input.shipping_fee,
        payment_fee: input.payment_fee,
        discount: input.discount,
        taxable_standard,
        taxable_reduced,
        tax_standard: contained_tax(taxable_standard, TaxRate::Standard, input.rounding),
        tax_reduced: contained_tax(taxable_reduced, TaxRate::Reduced, input.rounding),
        points_used: input.points_used,
        total: gross - input.points_used,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(price: i64, qty: i64, rate: TaxRate) -> PricedLine {
        PricedLine {
            unit_price: price,
            quantity: qty,
            tax_rate: rate,
            product_shipping_fee: None,
            product_payment_fee: None,
        }
    }

    #[test]
    fn contained_tax_rounding_modes() {
        // 1,000 yen incl. 10%: 90.909… → 90 / 91 / 91
        assert_eq!(
            contained_tax(1000, TaxRate::Standard, RoundingMode::Floor),
            90
        );
        assert_eq!(
            contained_tax(1000, TaxRate::Standard, RoundingMode::Ceil),
            91
        );
        assert_eq!(
            contained_tax(1000, TaxRate::Standard, RoundingMode::HalfUp),
            91
        );
        // 1,080 incl. 8% is exactly 80.
        for m in RoundingMode::ALL {
            assert_eq!(contained_tax(1080, TaxRate::Reduced, *m), 80);
            assert_eq!(contained_tax(0, TaxRate::Reduced, *m), 0);
        }
        // 1,045 incl. 10%: 95.0 exactly; 1,050: 95.45 → half-up 95; 1,056: 96.0
        assert_eq!(
            contained_tax(1050, TaxRate::Standard, RoundingMode::HalfUp),
            95
        );
        assert_eq!(
            contained_tax(1051, TaxRate::Standard, RoundingMode::HalfUp),
            96
        ); // 95.545…
    }

    #[test]
    fn tax_is_rounded_once_per_rate_not_per_line() {
        // Three lines of 100 yen at 8%: per line 7.4 → 7 each = 21; once: 22.2 → 22.
        let lines = vec![line(100, 1, TaxRate::Reduced); 3];
        let t = totals(&TotalsInput {
            lines: &lines,
            shipping_fee: 0,
            payment_fee: 0,
            discount: 0,
            points_used: 0,
            rounding: RoundingMode::Floor,
        })
        .unwrap();
        assert_eq!(t.tax_reduced, 22);
        assert_eq!(t.total, 300);
    }

    #[test]
    fn mixed_rates_fees_discount_points() {
        let lines = vec![
            line(3000, 2, TaxRate::Standard),
            line(1080, 1, TaxRate::Reduced),
        ];
        let t = totals(&TotalsInput {
            lines: &lines,
            shipping_fee: 770,
            payment_fee: 330,
            discount: 708,
            points_used: 100,
            rounding: RoundingMode::Floor,
        })
        .unwrap();
        assert_eq!(t.items_standard, 6000);
        assert_eq!(t.items_reduced, 1080);
        // discount share at 8%: 708 * 1080 / 7080 = 108
        assert_eq!(t.taxable_reduced, 972);
        assert_eq!(t.taxable_standard, 6000 - 600 + 770 + 330);
        assert_eq!(t.tax_reduced, 72);
        assert_eq!(t.tax_standard, 590); // 6500 * 10 / 110 = 590.9
        assert_eq!(t.total, 6500 + 972 - 100);
    }

    #[test]
    fn discount_and_points_cannot_exceed() {
        let lines = vec![line(1000, 1, TaxRate::Standard)];
        let base = TotalsInput {
            lines: &lines,
            shipping_fee: 0,
            payment_fee: 0,
            discount: 1001,
            points_used: 0,
            rounding: RoundingMode::Floor,
        };
        assert!(totals(&base).is_err());
        let t = totals(&TotalsInput {
            discount: 0,
            points_used: 1000,
            ..base
        })
        .unwrap();
        assert_eq!(t.total, 0);
        assert_eq!(t.tax_standard, 90, "points do not lower the taxable amount");
    }

    #[test]
    fn product_fees_win_over_master_fees() {
        let mut l = line(1000, 1, TaxRate::Standard);
        assert_eq!(shipping_fee(std::slice::from_ref(&l), Some(770)), 770);
        assert_eq!(payment_fee(std::slice::from_ref(&l), None), 0);
        l.product_shipping_fee = Some(0);
        l.product_payment_fee = Some(100);
        let other = line(500, 1, TaxRate::Reduced);
        assert_eq!(shipping_fee(&[l.clone(), other.clone()], Some(770)), 0);
        assert_eq!(payment_fee(&[l, other], Some(330)), 100);
    }

    #[test]
    fn totals_always_add_up() {
        // A small exhaustive sweep standing in for a property test: the total is
        // always the taxable sums minus points, and tax never exceeds the amount.
        for p1 in [0, 1, 99, 1000, 12345] {
            for p2 in [0, 7, 1080, 9999] {
                for d in [0, 1, 50] {
                    for m in RoundingMode::ALL {
                        let lines = vec![
                            line(p1, 2, TaxRate::Standard),
                            line(p2, 3, TaxRate::Reduced),
                        ];
                        let Ok(t) = totals(&TotalsInput {
                            lines: &lines,
                            shipping_fee: 500,
                            payment_fee: 0,
                            discount: d,
                            points_used: 0,
                            rounding: *m,
                        }) else {
                            assert!(d > p1 * 2 + p2 * 3);
                            continue;
                        };
                        assert_eq!(
                            t.taxable_standard + t.taxable_reduced,
                            p1 * 2 + p2 * 3 + 500 - d
                        );
                        assert_eq!(t.total, t.taxable_standard + t.taxable_reduced);
                        assert!(
                            t.tax_standard <= t.taxable_standard
                                && t.tax_reduced <= t.taxable_reduced.max(0)
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn points_are_a_rate_of_the_item_total_rounded_down() {
        let t = Totals {
            items_standard: 1980,
            items_reduced: 1080,
            shipping_fee: 500,
            payment_fee: 330,
            discount: 100,
            points_used: 50,
            ..Default::default()
        };
        assert_eq!(points_for(&t, 1), 30, "3,060 × 1% = 30.6 → 30");
        assert_eq!(points_for(&t, 0), 0);
        assert_eq!(points_for(&t, 100), 3060);
    }
}
