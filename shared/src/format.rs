//! Money and numbers as people read them, and USD amounts as people type them.

/// Nano-USD in one US dollar.
pub const NANOS_PER_USD: i64 = 1_000_000_000;

/// Parses a non-negative USD amount with at most six decimals into micro-USD, exactly
/// (`"2.50"` → 2,500,000); `what` names the field in the error.
pub fn parse_usd_micros(what: &str, s: &str) -> Result<i64, String> {
    let err = || format!("{what} {s:?}: expected a USD amount such as 2.50 (at most 6 decimals)");
    let (whole, frac) = s.trim().split_once('.').unwrap_or((s.trim(), ""));
    if whole.is_empty() && frac.is_empty() || frac.len() > 6 {
        return Err(err());
    }
    let digits = |t: &str| t.chars().all(|c| c.is_ascii_digit());
    if !digits(whole) || !digits(frac) {
        return Err(err());
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| err())?
    };
    let frac: i64 = format!("{frac:0<6}").parse().map_err(|_| err())?;
    whole
        .checked_mul(1_000_000)
        .and_then(|w| w.checked_add(frac))
        .ok_or_else(err)
}

/// Unix milliseconds as `YYYY-MM-DD HH:MM UTC` (for listings; dashboards use the viewer's zone).
pub fn format_utc_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// Formats nano-USD as dollars rounded to the cent, e.g. `$1,245.80`.
pub fn format_usd(nanos: i64) -> String {
    let negative = nanos < 0;
    let abs = (nanos as i128).abs();
    // Round half away from zero to whole cents.
    let cents = (abs + 5_000_000) / 10_000_000;
    let dollars = cents / 100;
    let rest = cents % 100;
    let sign = if negative && cents > 0 { "-" } else { "" };
    format!("{sign}${}.{rest:02}", group_thousands(dollars))
}

/// Formats an integer with thousands separators, e.g. `1,234,567`.
pub fn format_count(n: i64) -> String {
    let sign = if n < 0 { "-" } else { "" };
    format!("{sign}{}", group_thousands((n as i128).abs()))
}

fn group_thousands(n: i128) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}
