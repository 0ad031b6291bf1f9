//! `parseDate` and `formatDate`: dates in user-given patterns.
//!
//! Patterns are Java `DateTimeFormatter` letters, as AWS documents: `yyyy`
//! `yy` (`uuuu` too), `M` `MM` `MMM` `MMMM`, `d` `dd`, `H` `HH`, `h` `hh`,
//! `a`, `m` `mm`, `s` `ss`, `S`… (fraction), `E` `EEE` `EEEE`, `Z` (`+0000`),
//! `X` `XX` `XXX` (`Z` or offset), `'quoted text'`; other punctuation is
//! literal. A pattern containing `%` is read as strftime (`%Y-%m-%d
//! %H:%M:%S`, `%b`, `%a`, `%j`, `%z`, `%L` for milliseconds, `%%`) and
//! translated. The optional time zone is `UTC` or an offset such as
//! `+05:30`; parsed dates without an offset are taken in it (default UTC).

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

#[derive(Debug, Clone, PartialEq)]
enum Item {
    Lit(String),
    Year(usize),
    Month(usize),
    Day(usize),
    Hour24(usize),
    Hour12(usize),
    AmPm,
    Minute(usize),
    Second(usize),
    Fraction(usize),
    Weekday(usize),
    DayOfYear,
    Offset(usize),
    OffsetX(usize),
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

fn strftime_to_java(p: &str) -> String {
    let mut out = String::new();
    let mut chars = p.chars();
    let mut lit = String::new();
    let flush = |lit: &mut String, out: &mut String| {
        if !lit.is_empty() {
            out.push('\'');
            out.push_str(&lit.replace('\'', "''"));
            out.push('\'');
            lit.clear();
        }
    };
    while let Some(c) = chars.next() {
        if c != '%' {
            lit.push(c);
            continue;
        }
        let code = match chars.next() {
            Some(x) => x,
            None => break,
        };
        let java = match code {
            'Y' => "yyyy",
            'y' => "yy",
            'm' => "MM",
            'd' => "dd",
            'e' => "d",
            'H' => "HH",
            'I' => "hh",
            'p' => "a",
            'M' => "mm",
            'S' => "ss",
            'L' => "SSS",
            'b' | 'h' => "MMM",
            'B' => "MMMM",
            'a' => "EEE",
            'A' => "EEEE",
            'j' => "DDD",
            'z' => "Z",
            '%' => {
                lit.push('%');
                continue;
            }
            other => {
                lit.push('%');
                lit.push(other);
                continue;
            }
        };
        flush(&mut lit, &mut out);
        out.push_str(java);
    }
    flush(&mut lit, &mut out);
    out
}

fn compile(pattern: &str) -> Option<Vec<Item>> {
    let pattern = if pattern.contains('%') {
        strftime_to_java(pattern)
    } else {
        pattern.to_string()
    };
    let chars: Vec<char> = pattern.chars().collect();
    let mut items = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            let mut lit = String::new();
            i += 1;
            while i < chars.len() {
                if chars[i] == '\'' {
                    if chars.get(i + 1) == Some(&'\'') {
                        lit.push('\'');
                        i += 2;
                        continue;
                    }
                    break;
                }
                lit.push(chars[i]);
                i += 1;
            }
            i += 1;
            items.push(Item::Lit(if lit.is_empty() { "'".into() } else { lit }));
            continue;
        }
        if c.is_ascii_alphabetic() {
            let mut n = 1;
            while chars.get(i + n) == Some(&c) {
                n += 1;
            }
            i += n;
            items.push(match c {
                'y' | 'u' => Item::Year(n),
                'M' | 'L' => Item::Month(n),
                'd' => Item::Day(n),
                'D' => Item::DayOfYear,
                'H' => Item::Hour24(n),
                'h' => Item::Hour12(n),
                'a' => Item::AmPm,
                'm' => Item::Minute(n),
                's' => Item::Second(n),
                'S' => Item::Fraction(n),
                'E' => Item::Weekday(n),
                'Z' => Item::Offset(n),
                'X' | 'x' => Item::OffsetX(n),
                _ => return None,
            });
            continue;
        }
        items.push(Item::Lit(c.to_string()));
        i += 1;
    }
    Some(items)
}

/// Parses a time-zone argument.
pub fn zone(tz: Option<&str>) -> Option<UtcOffset> {
    match tz.map(str::trim) {
        None | Some("") => Some(UtcOffset::UTC),
        Some(z) if z.eq_ignore_ascii_case("utc") || z.eq_ignore_ascii_case("gmt") || z == "Z" => {
            Some(UtcOffset::UTC)
        }
        Some(z) => parse_offset(z),
    }
}

fn parse_offset(z: &str) -> Option<UtcOffset> {
    let (sign, rest) = match z.as_bytes().first()? {
        b'+' => (1, &z[1..]),
        b'-' => (-1, &z[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
    let (h, m) = match digits.len() {
        2 => (digits.parse::<i8>().ok()?, 0),
        4 => (
            digits[..2].parse::<i8>().ok()?,
            digits[2..].parse::<i8>().ok()?,
        ),
        _ => return None,
    };
    UtcOffset::from_hms(sign * h, sign * m, 0).ok()
}

/// `formatDate(ms, pattern, tz)`.
pub fn format(ms: i64, pattern: &str, tz: Option<&str>) -> Option<String> {
    let items = compile(pattern)?;
    let offset = zone(tz)?;
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()?
        .to_offset(offset);
    let mut out = String::new();
    for item in items {
        match item {
            Item::Lit(s) => out.push_str(&s),
            Item::Year(2) => out.push_str(&format!("{:02}", t.year().rem_euclid(100))),
            Item::Year(n) => out.push_str(&format!("{:0n$}", t.year())),
            Item::Month(n) if n >= 4 => out.push_str(MONTHS[usize::from(u8::from(t.month())) - 1]),
            Item::Month(3) => out.push_str(&MONTHS[usize::from(u8::from(t.month())) - 1][..3]),
            Item::Month(n) => out.push_str(&format!("{:0n$}", u8::from(t.month()))),
            Item::Day(n) => out.push_str(&format!("{:0n$}", t.day())),
            Item::DayOfYear => out.push_str(&format!("{:03}", t.ordinal())),
            Item::Hour24(n) => out.push_str(&format!("{:0n$}", t.hour())),
            Item::Hour12(n) => {
                let h = match t.hour() % 12 {
                    0 => 12,
                    h => h,
                };
                out.push_str(&format!("{h:0n$}"));
            }
            Item::AmPm => out.push_str(if t.hour() < 12 { "AM" } else { "PM" }),
            Item::Minute(n) => out.push_str(&format!("{:0n$}", t.minute())),
            Item::Second(n) => out.push_str(&format!("{:0n$}", t.second())),
            Item::Fraction(n) => {
                let nanos = format!("{:09}", t.nanosecond());
                out.push_str(&nanos[..n.min(9)]);
            }
            Item::Weekday(n) => {
                let d = DAYS[usize::from(t.weekday().number_days_from_monday())];
                out.push_str(if n >= 4 { d } else { &d[..3] });
            }
            Item::Offset(_) | Item::OffsetX(_) => {
                let (h, m, _) = t.offset().as_hms();
                if matches!(item, Item::OffsetX(_)) && h == 0 && m == 0 {
                    out.push('Z');
                } else {
                    let sign = if t.offset().is_negative() { '-' } else { '+' };
                    let colon = matches!(item, Item::OffsetX(3));
                    out.push_str(&format!(
                        "{sign}{:02}{}{:02}",
                        h.unsigned_abs(),
                        if colon { ":" } else { "" },
                        m.unsigned_abs()
                    ));
                }
            }
        }
    }
    Some(out)
}

/// `parseDate(text, pattern, tz)` → epoch ms.
pub fn parse(text: &str, pattern: &str, tz: Option<&str>) -> Option<i64> {
    let items = compile(pattern)?;
    let mut offset = zone(tz)?;
    let (mut year, mut month, mut day, mut doy) = (1970i32, 1u8, 1u8, None::<u16>);
    let (mut hour, mut minute, mut second, mut nanos) = (0u8, 0u8, 0u8, 0u32);
    let mut pm: Option<bool> = None;
    let mut rest = text;
    let take_digits = |s: &str, max: usize| -> Option<(u32, usize)> {
        let n = s.bytes().take(max).take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        Some((s[..n].parse().ok()?, n))
    };
    for (idx, item) in items.iter().enumerate() {
        // A number directly followed by another number item has a fixed width.
        let next_is_number = matches!(
            items.get(idx + 1),
            Some(
                Item::Year(_)
                    | Item::Month(1..=2)
                    | Item::Day(_)
                    | Item::Hour24(_)
                    | Item::Minute(_)
                    | Item::Second(_)
            )
        );
        let width = |n: usize| if next_is_number { n.max(1) } else { 9 };
        match item {
            Item::Lit(l) => rest = rest.strip_prefix(l.as_str())?,
            Item::Year(n) => {
                let sign = if rest.starts_with('-') { -1 } else { 1 };
                if sign < 0 {
                    rest = &rest[1..];
                }
                let (v, used) = take_digits(rest, if *n == 2 { 2 } else { width(*n).max(4) })?;
                year = if *n == 2 {
                    2000 + v as i32
                } else {
                    sign * v as i32
                };
                rest = &rest[used..];
            }
            Item::Month(n) if *n >= 3 => {
                let found = MONTHS.iter().enumerate().find_map(|(i, m)| {
                    let cand = if *n == 3 { &m[..3] } else { m };
                    rest.get(..cand.len())
                        .filter(|p| p.eq_ignore_ascii_case(cand))
                        .map(|_| (i, cand.len()))
                })?;
                month = found.0 as u8 + 1;
                rest = &rest[found.1..];
            }
            Item::Weekday(n) => {
                let used = DAYS.iter().find_map(|d| {
                    let cand = if *n >= 4 { *d } else { &d[..3] };
                    rest.get(..cand.len())
                        .filter(|p| p.eq_ignore_ascii_case(cand))
                        .map(|_| cand.len())
                })?;
                rest = &rest[used..];
            }
            Item::AmPm => {
                let p = rest.get(..2)?;
                pm = Some(p.eq_ignore_ascii_case("PM"));
                rest = &rest[2..];
            }
            Item::Offset(_) | Item::OffsetX(_) => {
                if let Some(r) = rest.strip_prefix('Z') {
                    offset = UtcOffset::UTC;
                    rest = r;
                } else {
                    let len = rest
                        .char_indices()
                        .skip(1)
                        .find(|(_, c)| !(c.is_ascii_digit() || *c == ':'))
                        .map_or(rest.len(), |(i, _)| i);
                    offset = parse_offset(&rest[..len])?;
                    rest = &rest[len..];
                }
            }
            Item::Fraction(n) => {
                let (v, used) = take_digits(rest, if next_is_number { *n } else { 9 })?;
                nanos = v * 10u32.pow(9 - used as u32);
                rest = &rest[used..];
            }
            other => {
                let n = match other {
                    Item::Month(n)
                    | Item::Day(n)
                    | Item::Hour24(n)
                    | Item::Hour12(n)
                    | Item::Minute(n)
                    | Item::Second(n) => *n,
                    _ => 3,
                };
                let max = if matches!(other, Item::DayOfYear) {
                    3
                } else {
                    width(n)
                        .max(2)
                        .min(if next_is_number { n.max(2) } else { 2 })
                };
                let (v, used) = take_digits(rest, max)?;
                rest = &rest[used..];
                match other {
                    Item::Month(_) => month = v as u8,
                    Item::Day(_) => day = v as u8,
                    Item::DayOfYear => doy = Some(v as u16),
                    Item::Hour24(_) | Item::Hour12(_) => hour = v as u8,
                    Item::Minute(_) => minute = v as u8,
                    Item::Second(_) => second = v as u8,
                    _ => {}
                }
            }
        }
    }
    if !rest.is_empty() {
        return None;
    }
    if let Some(pm) = pm {
        hour = match (hour % 12, pm) {
            (h, true) => h + 12,
            (h, false) => h,
        };
    }
    let date = match doy {
        Some(d) => Date::from_ordinal_date(year, d).ok()?,
        None => Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()?,
    };
    let time = Time::from_hms_nano(hour, minute, second, nanos).ok()?;
    let t = PrimitiveDateTime::new(date, time).assume_offset(offset);
    Some((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_795_593_601_250; // 2026-11-25 08:00:01.250 UTC, a Wednesday

    #[test]
    fn formats_java_and_strftime_patterns() {
        assert_eq!(
            format(T, "yyyy-MM-dd HH:mm:ss.SSS", None).unwrap(),
            "2026-11-25 08:00:01.250"
        );
        assert_eq!(
            format(T, "dd/MMM/yyyy:HH:mm:ss Z", None).unwrap(),
            "25/Nov/2026:08:00:01 +0000"
        );
        assert_eq!(
            format(T, "EEE, d MMMM yy h:mm a", Some("+05:30")).unwrap(),
            "Wed, 25 November 26 1:30 PM"
        );
        assert_eq!(
            format(T, "yyyy-MM-dd'T'HH:mm:ssXXX", Some("-02:00")).unwrap(),
            "2026-11-25T06:00:01-02:00"
        );
        assert_eq!(
            format(T, "%Y-%m-%d %H:%M:%S.%L %%", None).unwrap(),
            "2026-11-25 08:00:01.250 %"
        );
        assert!(format(T, "yyyy-qq", None).is_none());
    }

    #[test]
    fn parses_what_it_formats() {
        for (p, tz) in [
            ("yyyy-MM-dd HH:mm:ss.SSS", None),
            ("dd/MMM/yyyy:HH:mm:ss.SSS Z", Some("+03:00")),
            ("yyyyMMddHHmmssSSS", None),
            ("EEE, d MMMM yyyy h:mm:ss.SSS a", Some("-07:00")),
            ("yyyy-MM-dd'T'HH:mm:ss.SSSXXX", Some("+01:00")),
        ] {
            let text = format(T, p, tz).unwrap();
            assert_eq!(parse(&text, p, tz), Some(T), "{p} {text}");
        }
        assert_eq!(
            parse("25/Nov/2026:08:00:01 +0000", "dd/MMM/yyyy:HH:mm:ss Z", None),
            Some(T - 250)
        );
        assert_eq!(
            parse("2026-11-25", "yyyy-MM-dd", Some("+01:00")),
            Some(1_795_561_200_000)
        );
        assert_eq!(parse("not a date", "yyyy-MM-dd", None), None);
        assert_eq!(parse("2026-13-01", "yyyy-MM-dd", None), None);
    }
}
