//! Domain and wire types shared by the server and the browser (wasm-safe: serde only).
//!
//! Money is always an integer number of nano-USD (1e-9 USD); time is unix milliseconds UTC.
//! JSON field names are camelCase, as in the seed's interfaces.

mod admin;
mod alerting;
mod answers;
mod dimension;
mod event;
mod format;
mod panel;
mod prices;
mod query;

pub use dimension::{
    Breakdown, BreakdownBy, BreakdownDay, BreakdownRow, DimFilter, Dimension, VALUE_INVALID,
    VALUE_NONE, VALUE_NOT_RECORDED, VALUE_NO_KEY, VALUE_OTHER,
};
pub use panel::{error_log_page, ErrorsView, HourlyView, Panel, PanelData, Section};
pub use prices::{Discount, DiscountScope, NameRule};

pub use admin::*;
pub use alerting::*;
pub use answers::*;
pub use event::*;
pub use format::*;
pub use query::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_need_a_base_of_requests_and_huge_ones_read_as_factors() {
        use PeriodChange::*;
        let base = MIN_COMPARABLE_REQUESTS;
        assert_eq!(period_change(110.0, Some(100.0), base, true), Percent(10.0));
        assert_eq!(period_change(50.0, Some(100.0), base, true), Percent(-50.0));
        // 5 requests then 4,757: not "▲ 95,038.1 %".
        assert_eq!(period_change(4_757.0, Some(5.0), 5, true), New);
        assert_eq!(period_change(0.9, Some(0.5), 5, false), Nothing);
        assert_eq!(period_change(3_000.0, Some(100.0), base, true), Times(30.0));
        assert_eq!(period_change(10.0, None, 0, true), New);
        assert_eq!(period_change(0.0, None, 0, true), Nothing);
        assert_eq!(period_change(5.0, Some(0.0), base, true), New);
    }

    #[test]
    fn utc_times_format_as_civil_dates() {
        assert_eq!(format_utc_ms(0), "1970-01-01 00:00 UTC");
        // 2024-02-29 13:45:59 UTC, a leap day.
        assert_eq!(format_utc_ms(1_709_214_359_000), "2024-02-29 13:45 UTC");
        assert_eq!(format_utc_ms(-1), "1969-12-31 23:59 UTC");
    }

    #[test]
    fn usd_amounts_parse_exactly_to_micros() {
        assert_eq!(parse_usd_micros("x", "2.50"), Ok(2_500_000));
        assert_eq!(parse_usd_micros("x", "0.075"), Ok(75_000));
        assert_eq!(parse_usd_micros("x", "15"), Ok(15_000_000));
        assert_eq!(parse_usd_micros("x", ".5"), Ok(500_000));
        for bad in ["", "-1", "1.0000001", "abc", "1e3", "."] {
            assert!(parse_usd_micros("x", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dollars_are_rounded_to_the_cent_half_away_from_zero() {
        assert_eq!(format_usd(0), "$0.00");
        assert_eq!(format_usd(4_999_999), "$0.00");
        assert_eq!(format_usd(5_000_000), "$0.01");
        assert_eq!(format_usd(245_804_999_999), "$245.80");
        assert_eq!(format_usd(1_234_567_890_000_000), "$1,234,567.89");
        assert_eq!(format_usd(-1_500_000_000), "-$1.50");
    }

    #[test]
    fn counts_get_thousands_separators() {
        assert_eq!(format_count(0), "0");
        assert_eq!(format_count(999), "999");
        assert_eq!(format_count(1000), "1,000");
        assert_eq!(format_count(125_430), "125,430");
        assert_eq!(format_count(-2_847_392), "-2,847,392");
    }

    #[test]
    fn period_labels_round_trip() {
        for p in [
            Period::Last24h,
            Period::Last7d,
            Period::Last30d,
            Period::Last90d,
        ] {
            assert_eq!(Period::parse(p.label()), Some(p));
        }
        assert_eq!(Period::parse("1y"), None);
    }
}
