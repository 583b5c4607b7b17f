//! Rounding exactly as Odoo 18's web client rounds (`@web/core/utils/numbers`:
//! `roundPrecision`, `roundDecimals`, `floatIsZero`), and currencies.
//!
//! The POS computes in IEEE doubles and rounds with an epsilon scaled to the value's
//! magnitude, so `2.675` rounds to `2.68` as a cashier expects; we do the same operations in
//! the same order so that a total computed here is bit-for-bit the one Odoo's own POS shows.

use serde::{Deserialize, Serialize};

/// Tie-breaking rule of [`round_precision`] (Odoo's names: `HALF-UP`, `HALF-DOWN`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum RoundingMethod {
    /// Ties away from zero (Odoo's default).
    #[default]
    HalfUp,
    /// Ties towards zero.
    HalfDown,
    /// Ties to the even neighbour.
    HalfEven,
    /// Always away from zero.
    Up,
    /// Always towards zero.
    Down,
}

impl RoundingMethod {
    /// Parses Odoo's selection value (`"HALF-UP"`, `"UP"`, `"DOWN"`, ...).
    pub fn from_odoo(s: &str) -> Option<Self> {
        Some(match s {
            "HALF-UP" => RoundingMethod::HalfUp,
            "HALF-DOWN" => RoundingMethod::HalfDown,
            "HALF-EVEN" => RoundingMethod::HalfEven,
            "UP" => RoundingMethod::Up,
            "DOWN" => RoundingMethod::Down,
            _ => return None,
        })
    }
}

/// JavaScript's `Math.round`: ties go towards +∞ (`Math.round(-2.5) == -2`).
pub fn js_round(x: f64) -> f64 {
    let floor = x.floor();
    if x - floor >= 0.5 {
        floor + 1.0
    } else {
        floor
    }
}

/// `invertFloat` of `numbers.js`: 1/x computed through the decimal exponent so that
/// `invert(0.01) == 100.0` exactly.
fn invert_float(value: f64) -> f64 {
    // The table of numbers.js, for the common precisions.
    const TABLE: [(f64, f64); 30] = [
        (1e-1, 1e1),
        (1e-2, 1e2),
        (1e-3, 1e3),
        (1e-4, 1e4),
        (1e-5, 1e5),
        (1e-6, 1e6),
        (1e-7, 1e7),
        (1e-8, 1e8),
        (1e-9, 1e9),
        (1e-10, 1e10),
        (2e-1, 5e0),
        (2e-2, 5e1),
        (2e-3, 5e2),
        (2e-4, 5e3),
        (2e-5, 5e4),
        (2e-6, 5e5),
        (2e-7, 5e6),
        (2e-8, 5e7),
        (2e-9, 5e8),
        (2e-10, 5e9),
        (5e-1, 2e0),
        (5e-2, 2e1),
        (5e-3, 2e2),
        (5e-4, 2e3),
        (5e-5, 2e4),
        (5e-6, 2e5),
        (5e-7, 2e6),
        (5e-8, 2e7),
        (5e-9, 2e8),
        (5e-10, 2e9),
    ];
    if let Some((_, inv)) = TABLE.iter().find(|(k, _)| *k == value) {
        return *inv;
    }
    // `value.toExponential().split("e")`: Rust's `{:e}` is the same shortest form.
    let repr = format!("{value:e}");
    let Some((coeff, expt)) = repr.split_once('e') else {
        return 1.0 / value;
    };
    let (Ok(coeff), Ok(expt)) = (coeff.parse::<f64>(), expt.parse::<i32>()) else {
        return 1.0 / value;
    };
    format!("{coeff}e{}", -expt)
        .parse::<f64>()
        .map(|v| v / (coeff * coeff))
        .unwrap_or(1.0 / value)
}

/// `roundPrecision(value, precision, method)` of Odoo 18's `numbers.js`, operation for
/// operation: `precision` is a step such as `0.01` (a non-positive or NaN precision means 1).
pub fn round_precision(value: f64, precision: f64, method: RoundingMethod) -> f64 {
    if value == 0.0 || value.is_nan() {
        return 0.0;
    }
    let precision = if precision.is_nan() || precision <= 0.0 {
        1.0
    } else {
        precision
    };
    let mut factor = precision;
    let mut invert = false;
    if factor < 1.0 {
        factor = invert_float(factor);
        invert = true;
    }
    let normalize = |v: f64| if invert { v * factor } else { v / factor };
    let denormalize = |v: f64| if invert { v / factor } else { v * factor };
    let normalized = normalize(value);
    let sign = if normalized > 0.0 {
        1.0
    } else if normalized < 0.0 {
        -1.0
    } else {
        0.0
    };
    let epsilon_magnitude = normalized.abs().log2();
    let epsilon = 2f64.powf(epsilon_magnitude - 50.0);
    let rounded = match method {
        RoundingMethod::Down => (normalized + sign * epsilon).trunc(),
        RoundingMethod::HalfDown => js_round(normalized - sign * epsilon),
        RoundingMethod::HalfUp => js_round(normalized + sign * epsilon),
        RoundingMethod::HalfEven => {
            let integral = normalized.floor();
            let remainder = (normalized - integral).abs();
            let is_half = (0.5 - remainder).abs() < epsilon;
            if is_half {
                // `integral + (integral & 1)`: JS's & works on 32-bit integers.
                let odd = ((integral as i64) & 1) as f64;
                integral + odd
            } else {
                js_round(normalized)
            }
        }
        RoundingMethod::Up => (normalized + sign * (1.0 - epsilon)).trunc(),
    };
    denormalize(rounded)
}

/// `roundDecimals(value, decimals)`: half-up to `decimals` digits.
pub fn round_decimals(value: f64, decimals: u32) -> f64 {
    round_precision(value, decimal_step(decimals), RoundingMethod::HalfUp)
}

/// `parseFloat("1e-" + decimals)`: the exact decimal step (avoids `10^-4 = 0.0000999…`).
pub fn decimal_step(decimals: u32) -> f64 {
    format!("1e-{decimals}").parse().unwrap_or(1.0)
}

/// `floatIsZero(value, decimals)`.
pub fn float_is_zero(value: f64, decimals: u32) -> bool {
    value == 0.0 || round_decimals(value, decimals) == 0.0
}

/// Where the symbol goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum SymbolPosition {
    /// `$ 10.00`
    Before,
    /// `10.00 €`
    #[default]
    After,
}

/// A `res.currency` as the POS loads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Currency {
    /// Record id.
    pub id: i64,
    /// ISO code, e.g. `USD`.
    pub name: String,
    /// Symbol, e.g. `$`.
    pub symbol: String,
    /// Symbol before or after the amount.
    pub position: SymbolPosition,
    /// Rounding step, e.g. `0.01`.
    pub rounding: f64,
    /// Digits after the decimal point.
    pub decimal_places: u32,
}

impl Default for Currency {
    fn default() -> Self {
        Currency {
            id: 0,
            name: "USD".into(),
            symbol: "$".into(),
            position: SymbolPosition::Before,
            rounding: 0.01,
            decimal_places: 2,
        }
    }
}

impl Currency {
    /// Rounds to the currency's step (`roundPrecision(v, currency.rounding)`).
    pub fn round(&self, value: f64) -> f64 {
        round_precision(value, self.rounding, RoundingMethod::HalfUp)
    }

    /// True when `value` rounds to zero at the currency's decimal places.
    pub fn is_zero(&self, value: f64) -> bool {
        float_is_zero(value, self.decimal_places)
    }

    /// The amount with the currency's decimals, without symbol: `1234.5` → `1,234.50`.
    pub fn format_number(&self, value: f64) -> String {
        let rounded = round_decimals(value, self.decimal_places);
        let negative = rounded < 0.0 && !self.is_zero(rounded);
        let text = format!("{:.*}", self.decimal_places as usize, rounded.abs());
        let (int_part, frac) = match text.split_once('.') {
            Some((i, f)) => (i.to_owned(), Some(f.to_owned())),
            None => (text, None),
        };
        let mut grouped = String::with_capacity(int_part.len() + int_part.len() / 3);
        for (i, ch) in int_part.chars().enumerate() {
            if i > 0 && (int_part.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(ch);
        }
        let mut out = String::new();
        if negative {
            out.push('-');
        }
        out.push_str(&grouped);
        if let Some(f) = frac {
            out.push('.');
            out.push_str(&f);
        }
        out
    }

    /// The amount with its symbol where the currency puts it: `$ 10.00`, `10.00 €`.
    pub fn format(&self, value: f64) -> String {
        let n = self.format_number(value);
        match self.position {
            SymbolPosition::Before => format!("{}\u{a0}{n}", self.symbol),
            SymbolPosition::After => format!("{n}\u{a0}{}", self.symbol),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_up_uses_the_magnitude_epsilon_like_odoo() {
        // 2.675 is 2.67499999… as a double: Odoo rounds it up, so do we.
        assert_eq!(round_precision(2.675, 0.01, RoundingMethod::HalfUp), 2.68);
        assert_eq!(round_precision(-2.675, 0.01, RoundingMethod::HalfUp), -2.68);
        assert_eq!(round_precision(1.005, 0.01, RoundingMethod::HalfUp), 1.01);
        assert_eq!(round_precision(0.125, 0.01, RoundingMethod::HalfUp), 0.13);
        assert_eq!(round_precision(0.0, 0.01, RoundingMethod::HalfUp), 0.0);
        assert_eq!(round_precision(f64::NAN, 0.01, RoundingMethod::HalfUp), 0.0);
    }

    #[test]
    fn every_method_on_ties_and_non_ties() {
        use RoundingMethod::*;
        let cases = [
            (2.5, 1.0, [3.0, 2.0, 2.0, 3.0, 2.0]),
            (3.5, 1.0, [4.0, 3.0, 4.0, 4.0, 3.0]),
            (-2.5, 1.0, [-3.0, -2.0, -2.0, -3.0, -2.0]),
            (2.1, 1.0, [2.0, 2.0, 2.0, 3.0, 2.0]),
            (1.23, 0.05, [1.25, 1.25, 1.25, 1.25, 1.2]),
            (1.225, 0.05, [1.25, 1.2, 1.2, 1.25, 1.2]),
        ];
        for (value, step, expected) in cases {
            for (method, want) in [HalfUp, HalfDown, HalfEven, Up, Down].iter().zip(expected) {
                let got = round_precision(value, step, *method);
                assert!(
                    (got - want).abs() < 1e-12,
                    "{value} step {step} {method:?}: {got} != {want}"
                );
            }
        }
    }

    #[test]
    fn steps_above_one_and_odd_steps() {
        assert_eq!(
            round_precision(1234.0, 100.0, RoundingMethod::HalfUp),
            1200.0
        );
        assert_eq!(
            round_precision(1250.0, 100.0, RoundingMethod::HalfUp),
            1300.0
        );
        assert_eq!(round_precision(7.3, 0.25, RoundingMethod::HalfUp), 7.25);
        assert_eq!(invert_float(0.25), 4.0);
        assert_eq!(invert_float(0.01), 100.0);
    }

    #[test]
    fn js_round_ties_go_up() {
        assert_eq!(js_round(-2.5), -2.0);
        assert_eq!(js_round(2.5), 3.0);
        assert_eq!(js_round(-2.6), -3.0);
        assert_eq!(js_round(0.49999999999999994), 0.0);
    }

    #[test]
    fn decimals_and_zero() {
        assert_eq!(decimal_step(4), 0.0001);
        assert_eq!(round_decimals(1.23456, 4), 1.2346);
        assert!(float_is_zero(0.004, 2));
        assert!(!float_is_zero(0.005, 2));
    }

    #[test]
    fn formats_like_a_receipt() {
        let usd = Currency::default();
        assert_eq!(usd.format(1234.5), "$\u{a0}1,234.50");
        assert_eq!(usd.format(-0.001), "$\u{a0}0.00");
        assert_eq!(usd.format(-12.345), "$\u{a0}-12.35");
        let eur = Currency {
            symbol: "€".into(),
            position: SymbolPosition::After,
            ..Currency::default()
        };
        assert_eq!(eur.format(1000000.0), "1,000,000.00\u{a0}€");
        let jpy = Currency {
            rounding: 1.0,
            decimal_places: 0,
            ..Currency::default()
        };
        assert_eq!(jpy.format_number(1234.5), "1,235");
    }
}
