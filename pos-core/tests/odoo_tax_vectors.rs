//! Odoo 18's own expected tax results, run through our port.
//!
//! Every case below is copied from `addons/account/tests/test_taxes_computation.py` or
//! `addons/account/tests/test_taxes_tax_totals_summary.py` of Odoo 18.0 (the test name is in
//! each function's name or comment). Odoo runs the same expectations against both its
//! Python and its JavaScript implementation; we run them against ours. Taxes are created in
//! the order the Odoo test creates them, so ids (the tie-breaker after `sequence`) match.

use pos_core::money::{round_precision, Currency, RoundingMethod};
use pos_core::tax::{
    add_tax_details_in_base_line, get_tax_details, round_base_lines_tax_details,
    tax_totals_summary, AmountType, BaseLine, SpecialMode, Tax, TaxCompany, TaxGroup, TaxRounding,
};

struct Taxes(i64);

impl Taxes {
    fn make(&mut self, amount_type: AmountType, amount: f64) -> Tax {
        self.0 += 1;
        Tax {
            id: self.0,
            name: format!("{amount_type:?}_{amount}"),
            amount_type,
            amount,
            price_include: false,
            include_base_amount: false,
            is_base_affected: true,
            has_negative_factor: false,
            sequence: 1,
            children: Vec::new(),
            tax_group: None,
        }
    }
    fn percent(&mut self, amount: f64) -> Tax {
        self.make(AmountType::Percent, amount)
    }
    fn fixed(&mut self, amount: f64) -> Tax {
        self.make(AmountType::Fixed, amount)
    }
    fn division(&mut self, amount: f64) -> Tax {
        self.make(AmountType::Division, amount)
    }
    fn group(&mut self, children: Vec<Tax>) -> Tax {
        let mut g = self.make(AmountType::Group, 0.0);
        g.children = children;
        g
    }
}

fn incl(mut t: Tax) -> Tax {
    t.price_include = true;
    t
}
fn seq(mut t: Tax, s: i64) -> Tax {
    t.sequence = s;
    t
}

/// `assert_taxes_computation(taxes, price_unit, expected, quantity, precision_rounding,
/// rounding_method)`: compared after rounding to 0.01 (per line) or 1e-6 (globally), as
/// `_assert_sub_test_taxes_computation` does.
#[allow(clippy::too_many_arguments)]
fn check(
    taxes: &[Tax],
    price_unit: f64,
    quantity: f64,
    precision: f64,
    rounding: TaxRounding,
    total_included: f64,
    total_excluded: f64,
    data: &[(f64, f64)],
) {
    let r = get_tax_details(
        taxes,
        price_unit,
        quantity,
        precision,
        rounding,
        SpecialMode::None,
    );
    let step = if rounding == TaxRounding::Globally {
        0.000001
    } else {
        0.01
    };
    let rd = |v: f64| round_precision(v, step, RoundingMethod::HalfUp);
    let ctx = format!("price {price_unit} x {quantity} {rounding:?}: {r:#?}");
    assert_eq!(
        rd(r.total_included),
        rd(total_included),
        "total_included, {ctx}"
    );
    assert_eq!(
        rd(r.total_excluded),
        rd(total_excluded),
        "total_excluded, {ctx}"
    );
    assert_eq!(r.taxes_data.len(), data.len(), "{ctx}");
    for (got, (base, tax)) in r.taxes_data.iter().zip(data) {
        assert_eq!(rd(got.base_amount), rd(*base), "base, {ctx}");
        assert_eq!(rd(got.tax_amount), rd(*tax), "tax, {ctx}");
    }
}

use TaxRounding::{Globally, PerLine};

#[test]
fn test_taxes_ordering() {
    let mut t = Taxes(0);
    let division = seq(t.division(10.0), 1);
    let fixed = seq(t.fixed(10.0), 2);
    let percent = seq(t.percent(10.0), 3);
    let group = seq(t.group(vec![fixed, percent]), 4);
    check(
        &[group, division],
        200.0,
        1.0,
        0.01,
        PerLine,
        252.22,
        200.0,
        &[(200.0, 22.22), (200.0, 10.0), (200.0, 20.0)],
    );

    let p1 = incl(t.percent(0.0));
    let p2 = incl(t.percent(8.0));
    let g1 = seq(t.group(vec![p1]), 5);
    let g2 = seq(t.group(vec![p2]), 6);
    check(
        &[g1, g2],
        124.4,
        1.0,
        0.01,
        PerLine,
        124.4,
        115.19,
        &[(115.19, 0.0), (115.19, 9.21)],
    );
}

#[test]
fn test_random_case_1() {
    let mut t = Taxes(0);
    let p8 = incl(t.percent(8.0));
    let p0 = incl(t.percent(0.0));
    let taxes = [p8, p0];
    check(
        &taxes,
        124.40,
        1.0,
        0.01,
        PerLine,
        124.40,
        115.19,
        &[(115.19, 9.21), (115.19, 0.0)],
    );
    check(
        &taxes,
        124.40,
        1.0,
        0.01,
        Globally,
        124.40,
        115.185185,
        &[(115.185185, 9.214815), (115.185185, 0.0)],
    );
}

#[test]
fn test_random_case_2() {
    let mut t = Taxes(0);
    let p5 = [incl(t.percent(5.0))];
    check(&p5, 5.0, 1.0, 0.05, PerLine, 5.0, 4.75, &[(4.75, 0.25)]);
    check(&p5, 10.0, 1.0, 0.05, PerLine, 10.0, 9.5, &[(9.5, 0.5)]);
    check(&p5, 50.0, 1.0, 0.05, PerLine, 50.0, 47.6, &[(47.6, 2.4)]);
    check(
        &p5,
        5.0,
        1.0,
        0.01,
        Globally,
        5.0,
        4.761905,
        &[(4.761905, 0.238095)],
    );
    check(
        &p5,
        10.0,
        1.0,
        0.01,
        Globally,
        10.0,
        9.52381,
        &[(9.52381, 0.47619)],
    );
    check(
        &p5,
        50.0,
        1.0,
        0.01,
        Globally,
        50.0,
        47.619048,
        &[(47.619048, 2.380952)],
    );
}

#[test]
fn test_random_case_3() {
    let mut t = Taxes(0);
    let taxes = [t.percent(15.0), incl(t.percent(5.5))];
    check(
        &taxes,
        2300.0,
        1.0,
        0.01,
        PerLine,
        2627.01,
        2180.09,
        &[(2180.09, 327.01), (2180.09, 119.91)],
    );
    check(
        &taxes,
        2300.0,
        1.0,
        0.01,
        Globally,
        2627.014218,
        2180.094787,
        &[(2180.094787, 327.014218), (2180.094787, 119.905213)],
    );
}

#[test]
fn test_random_case_4() {
    let mut t = Taxes(0);
    let p12 = [incl(t.percent(12.0))];
    check(
        &p12,
        52.50,
        1.0,
        0.01,
        PerLine,
        52.50,
        46.87,
        &[(46.87, 5.63)],
    );
    check(
        &p12,
        52.50,
        1.0,
        0.01,
        Globally,
        52.50,
        46.875,
        &[(46.875, 5.625)],
    );
}

#[test]
fn test_random_case_5() {
    let mut t = Taxes(0);
    let p19 = [t.percent(19.0)];
    let p19i = [incl(t.percent(19.0))];
    check(
        &p19,
        22689.0,
        1.0,
        1.0,
        PerLine,
        27000.0,
        22689.0,
        &[(22689.0, 4311.0)],
    );
    check(
        &p19,
        9176.0,
        1.0,
        1.0,
        PerLine,
        10919.0,
        9176.0,
        &[(9176.0, 1743.0)],
    );
    check(
        &p19i,
        27000.0,
        1.0,
        1.0,
        PerLine,
        27000.0,
        22689.0,
        &[(22689.0, 4311.0)],
    );
    check(
        &p19i,
        10920.0,
        1.0,
        1.0,
        PerLine,
        10920.0,
        9176.0,
        &[(9176.0, 1744.0)],
    );
    check(
        &p19,
        22689.0,
        1.0,
        0.01,
        Globally,
        26999.91,
        22689.0,
        &[(22689.0, 4310.91)],
    );
    check(
        &p19,
        9176.0,
        1.0,
        0.01,
        Globally,
        10919.44,
        9176.0,
        &[(9176.0, 1743.44)],
    );
    check(
        &p19i,
        27000.0,
        1.0,
        0.01,
        Globally,
        27000.0,
        22689.07563,
        &[(22689.07563, 4310.92437)],
    );
    check(
        &p19i,
        10920.0,
        1.0,
        0.01,
        Globally,
        10920.0,
        9176.470588,
        &[(9176.470588, 1743.529412)],
    );
}

#[test]
fn test_random_case_6_and_7() {
    let mut t = Taxes(0);
    let p20 = [incl(t.percent(20.0))];
    check(
        &p20,
        399.999999,
        1.0,
        0.000001,
        PerLine,
        399.999999,
        333.333332,
        &[(333.333332, 66.666667)],
    );
    check(
        &p20,
        399.999999,
        1.0,
        0.01,
        Globally,
        399.999999,
        333.3333325,
        &[(333.3333325, 66.6666665)],
    );
    let p21 = [incl(t.percent(21.0))];
    check(
        &p21,
        11.90,
        1.0,
        0.01,
        PerLine,
        11.90,
        9.83,
        &[(9.83, 2.07)],
    );
    check(&p21, 2.80, 1.0, 0.01, PerLine, 2.80, 2.31, &[(2.31, 0.49)]);
    check(
        &p21,
        11.90,
        1.0,
        0.01,
        Globally,
        11.90,
        9.834711,
        &[(9.834711, 2.065289)],
    );
    check(
        &p21,
        2.80,
        1.0,
        0.01,
        Globally,
        2.80,
        2.31405,
        &[(2.31405, 0.48595)],
    );
    check(
        &p21,
        7.0,
        1.0,
        0.01,
        Globally,
        7.0,
        5.785124,
        &[(5.785124, 1.214876)],
    );
}

#[test]
fn test_random_case_8_withholding_and_include_base_amount() {
    let mut t = Taxes(0);
    let w = t.percent(-20.0);
    let mut p4 = t.percent(4.0);
    p4.include_base_amount = true;
    let p22 = t.percent(22.0);
    check(
        &[w, p4, p22],
        50.0,
        1.0,
        0.01,
        PerLine,
        53.44,
        50.0,
        &[(50.0, -10.0), (50.0, 2.0), (52.0, 11.44)],
    );
}

#[test]
fn test_random_case_9_and_fixed_on_zero() {
    let mut t = Taxes(0);
    let d100 = [incl(t.division(100.0))];
    check(
        &d100,
        100.0,
        1.0,
        0.01,
        PerLine,
        100.0,
        0.0,
        &[(0.0, 100.0)],
    );
    let mut f = incl(t.fixed(0.05));
    f.include_base_amount = true;
    check(&[f], 0.0, 1.0, 0.01, PerLine, 0.0, -0.05, &[(-0.05, 0.05)]);
}

#[test]
fn test_percent_taxes_for_l10n_in() {
    let mut t = Taxes(0);
    let mut tax1 = t.percent(6.0);
    let mut tax2 = t.percent(6.0);
    let tax3 = t.percent(3.0);
    check(
        &[tax1.clone(), tax2.clone(), tax3.clone()],
        100.0,
        1.0,
        0.01,
        Globally,
        115.0,
        100.0,
        &[(100.0, 6.0), (100.0, 6.0), (100.0, 3.0)],
    );
    tax1.include_base_amount = true;
    check(
        &[tax1.clone(), tax2.clone(), tax3.clone()],
        100.0,
        1.0,
        0.01,
        Globally,
        115.54,
        100.0,
        &[(100.0, 6.0), (106.0, 6.36), (106.0, 3.18)],
    );
    tax2.is_base_affected = false;
    check(
        &[tax1, tax2, tax3],
        100.0,
        1.0,
        0.01,
        Globally,
        115.18,
        100.0,
        &[(100.0, 6.0), (100.0, 6.0), (106.0, 3.18)],
    );
}

#[test]
fn test_division_taxes_for_l10n_br() {
    let mut t = Taxes(0);
    let taxes: Vec<Tax> = [5.0, 3.0, 0.65, 9.0, 15.0]
        .into_iter()
        .map(|a| t.division(a))
        .collect();
    check(
        &taxes,
        32.33,
        1.0,
        0.01,
        Globally,
        48.00297,
        32.33,
        &[
            (32.33, 2.400148),
            (32.33, 1.440089),
            (32.33, 0.312019),
            (32.33, 4.320267),
            (32.33, 7.200445),
        ],
    );
    let included: Vec<Tax> = taxes.into_iter().map(incl).collect();
    check(
        &included,
        48.0,
        1.0,
        0.01,
        Globally,
        48.0,
        32.328,
        &[
            (32.328, 2.4),
            (32.328, 1.44),
            (32.328, 0.312),
            (32.328, 4.32),
            (32.328, 7.2),
        ],
    );
}

#[test]
fn test_fixed_taxes_for_l10n_be() {
    let mut t = Taxes(0);
    let mut tax1 = t.fixed(1.0);
    let tax2 = t.percent(21.0);
    let tax3 = t.fixed(2.0);
    check(
        &[tax1.clone(), tax2.clone(), tax3.clone()],
        20.0,
        5.0,
        0.01,
        Globally,
        136.0,
        100.0,
        &[(100.0, 5.0), (100.0, 21.0), (100.0, 10.0)],
    );
    tax1.include_base_amount = true;
    check(
        &[tax1, tax2, tax3],
        19.0,
        5.0,
        0.01,
        Globally,
        131.0,
        95.0,
        &[(95.0, 5.0), (100.0, 21.0), (100.0, 10.0)],
    );
}

// ------------------------------------------------------------------ documents

fn usd() -> Currency {
    Currency {
        id: 1,
        ..Currency::default()
    }
}

fn document(
    lines: &[(f64, f64, f64, Vec<Tax>)],
    rounding: TaxRounding,
) -> (f64, f64, f64, Vec<(i64, f64, f64)>) {
    let company = TaxCompany {
        rounding,
        currency: usd(),
        fiscal_country_code: None,
    };
    let mut base: Vec<BaseLine> = lines
        .iter()
        .map(|(price, qty, discount, taxes)| {
            BaseLine::new(*price, *qty, *discount, taxes.clone(), usd())
        })
        .collect();
    for l in base.iter_mut() {
        add_tax_details_in_base_line(l, &company);
    }
    round_base_lines_tax_details(&mut base, &company);
    let s = tax_totals_summary(&base);
    let r2 = |v: f64| round_precision(v, 0.01, RoundingMethod::HalfUp);
    (
        r2(s.base_amount_currency),
        r2(s.tax_amount_currency),
        r2(s.total_amount_currency),
        s.groups
            .iter()
            .map(|g| (g.id, r2(g.base_amount_currency), r2(g.tax_amount_currency)))
            .collect(),
    )
}

fn grouped(t: Tax, group: i64) -> Tax {
    Tax {
        tax_group: Some(TaxGroup {
            id: group,
            name: group.to_string(),
            pos_receipt_label: None,
        }),
        ..t
    }
}

/// `_test_taxes_l10n_in` (the `_currency` amounts, which the rate does not change).
#[test]
fn tax_totals_l10n_in() {
    let mut t = Taxes(0);
    let mut tax1 = t.percent(6.0);
    tax1.include_base_amount = true;
    let mut tax2 = t.percent(6.0);
    tax2.include_base_amount = true;
    tax2.is_base_affected = false;
    let tax3 = t.percent(3.0);
    let same = |a: &Tax, b: &Tax, c: &Tax| {
        vec![
            grouped(a.clone(), 1),
            grouped(b.clone(), 1),
            grouped(c.clone(), 1),
        ]
    };
    let diff = |a: &Tax, b: &Tax, c: &Tax| {
        vec![
            grouped(a.clone(), 1),
            grouped(b.clone(), 2),
            grouped(c.clone(), 3),
        ]
    };

    let lines = |taxes: Vec<Tax>, price: f64| {
        vec![(price, 1.0, 0.0, taxes.clone()), (price, 1.0, 0.0, taxes)]
    };
    assert_eq!(
        document(&lines(same(&tax1, &tax2, &tax3), 15.89), PerLine),
        (31.78, 4.86, 36.64, vec![(1, 31.78, 4.86)])
    );
    assert_eq!(
        document(&lines(same(&tax1, &tax2, &tax3), 15.89), Globally),
        (31.78, 4.89, 36.67, vec![(1, 31.78, 4.89)])
    );
    assert_eq!(
        document(&lines(diff(&tax1, &tax2, &tax3), 15.89), PerLine),
        (
            31.78,
            4.86,
            36.64,
            vec![(1, 31.78, 1.9), (2, 31.78, 1.9), (3, 35.58, 1.06)]
        )
    );
    assert_eq!(
        document(&lines(diff(&tax1, &tax2, &tax3), 15.89), Globally),
        (
            31.78,
            4.89,
            36.67,
            vec![(1, 31.78, 1.91), (2, 31.78, 1.91), (3, 35.59, 1.07)]
        )
    );

    let (i1, i2) = (incl(tax1.clone()), incl(tax2.clone()));
    assert_eq!(
        document(&lines(same(&i1, &i2, &tax3), 17.79), PerLine),
        (31.78, 4.86, 36.64, vec![(1, 31.78, 4.86)])
    );
    assert_eq!(
        document(&lines(same(&i1, &i2, &tax3), 17.79), Globally),
        (31.77, 4.89, 36.66, vec![(1, 31.77, 4.89)])
    );
    assert_eq!(
        document(&lines(diff(&i1, &i2, &tax3), 17.79), PerLine),
        (
            31.78,
            4.86,
            36.64,
            vec![(1, 31.78, 1.9), (2, 31.78, 1.9), (3, 35.58, 1.06)]
        )
    );
}

/// `_test_discount_with_round_globally`.
#[test]
fn tax_totals_discount_with_round_globally() {
    let mut t = Taxes(0);
    let tax = grouped(t.percent(21.0), 1);
    let lines: Vec<_> = (0..6)
        .map(|_| (5.75, 5.0, 18.0, vec![tax.clone()]))
        .collect();
    assert_eq!(
        document(&lines, Globally),
        (141.45, 29.70, 171.15, vec![(1, 141.45, 29.70)])
    );
    let tax = incl(tax);
    let lines: Vec<_> = (0..6)
        .map(|_| (5.75, 5.0, 18.0, vec![tax.clone()]))
        .collect();
    assert_eq!(
        document(&lines, Globally),
        (116.90, 24.55, 141.45, vec![(1, 116.90, 24.55)])
    );
}

/// `_test_reverse_charge_percent_tax` (a tax line of +100% and one of −100%).
#[test]
fn tax_totals_reverse_charge() {
    let mut t = Taxes(0);
    let mut tax = grouped(t.percent(21.0), 1);
    tax.has_negative_factor = true;
    assert_eq!(
        document(&[(100.0, 1.0, 0.0, vec![tax.clone()])], PerLine),
        (100.0, 0.0, 100.0, vec![(1, 100.0, 0.0)])
    );
    let tax = incl(tax);
    assert_eq!(
        document(&[(121.0, 1.0, 0.0, vec![tax])], PerLine),
        (121.0, 0.0, 121.0, vec![(1, 121.0, 0.0)])
    );
}
