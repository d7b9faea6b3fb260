//! OPA's `time.*` builtins, without a clock: every function here is a pure
//! function of its arguments (`time.now_ns()` is in the parent module and
//! returns the recorded evaluation time).
//!
//! Layouts are Go's (`2006-01-02T15:04:05Z07:00`), as in OPA. Time zones are
//! `""`/`"UTC"` or an IANA name; `"Local"` is refused: the sandbox has no
//! local zone, and a decision must not depend on the host's.

use anyhow::{Result, anyhow, bail};
use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveDateTime, Offset, TimeZone, Timelike, Utc};
use chrono_tz::{OffsetName, Tz};
use regorus::Value;

const RFC3339_NANO: &str = "2006-01-02T15:04:05.999999999Z07:00";
const NANOS_PER_SEC: i64 = 1_000_000_000;

/// `time.parse_rfc3339_ns(value)`.
pub fn parse_rfc3339_ns(args: &[Value]) -> Result<Value> {
    let text = super::string(args, 0)?;
    let parsed = DateTime::parse_from_rfc3339(text)
        .map_err(|e| anyhow!("time.parse_rfc3339_ns: cannot parse `{text}`: {e}"))?;
    nanos_value(parsed.timestamp_nanos_opt())
}

/// `time.parse_ns(layout, value)`.
pub fn parse_ns(args: &[Value]) -> Result<Value> {
    let layout = named_layout(super::string(args, 0)?);
    let text = super::string(args, 1)?;
    let nanos = parse_layout(layout, text)
        .map_err(|e| anyhow!("time.parse_ns: cannot parse `{text}` as `{layout}`: {e}"))?;
    nanos_value(Some(nanos))
}

/// `time.parse_duration_ns(duration)`: Go's `time.ParseDuration`.
pub fn parse_duration_ns(args: &[Value]) -> Result<Value> {
    let text = super::string(args, 0)?;
    parse_duration(text)
        .map(Value::from)
        .ok_or_else(|| anyhow!("time.parse_duration_ns: invalid duration `{text}`"))
}

/// `time.date(x)`: `[year, month, day]`.
pub fn date(args: &[Value]) -> Result<Value> {
    let t = zoned(args, 0)?;
    Ok(Value::from(vec![
        Value::from(i64::from(t.local.year())),
        Value::from(i64::from(t.local.month())),
        Value::from(i64::from(t.local.day())),
    ]))
}

/// `time.clock(x)`: `[hour, minute, second]`.
pub fn clock(args: &[Value]) -> Result<Value> {
    let t = zoned(args, 0)?;
    Ok(Value::from(vec![
        Value::from(i64::from(t.local.hour())),
        Value::from(i64::from(t.local.minute())),
        Value::from(i64::from(t.local.second())),
    ]))
}

/// `time.weekday(x)`: e.g. `"Monday"`.
pub fn weekday(args: &[Value]) -> Result<Value> {
    let t = zoned(args, 0)?;
    Ok(Value::from(
        LONG_DAYS[t.local.weekday().num_days_from_monday() as usize],
    ))
}

/// `time.format(x)`: `x` is `ns`, `[ns, tz]` or `[ns, tz, layout]`.
pub fn format(args: &[Value]) -> Result<Value> {
    let t = zoned(args, 0)?;
    let layout = match args.first() {
        Some(Value::Array(items)) if items.len() > 2 => named_layout(as_str(&items[2])?),
        _ => RFC3339_NANO,
    };
    Ok(Value::from(format_layout(&t, layout)))
}

/// `time.add_date(ns, years, months, days)`, normalised as Go's `AddDate`
/// (October 31 plus one month is December 1).
pub fn add_date(args: &[Value]) -> Result<Value> {
    let ns = nanos_arg(args, 0)?;
    let [years, months, days] = [1, 2, 3].map(|i| args.get(i).map(int).transpose());
    let (years, months, days) = (
        years?.unwrap_or(0),
        months?.unwrap_or(0),
        days?.unwrap_or(0),
    );
    let t = utc(ns)?;
    let month0 = i64::from(t.month0()) + months;
    let year = i64::from(t.year()) + years + month0.div_euclid(12);
    let month = month0.rem_euclid(12) + 1;
    let first = NaiveDate::from_ymd_opt(
        i32::try_from(year).map_err(|_| anyhow!("time.add_date: year out of range"))?,
        u32::try_from(month)?,
        1,
    )
    .ok_or_else(|| anyhow!("time.add_date: date out of range"))?;
    let offset_days = i64::from(t.day()) - 1 + days;
    let date = shift_days(first, offset_days)
        .ok_or_else(|| anyhow!("time.add_date: date out of range"))?;
    let shifted = date.and_time(t.time()).and_utc();
    nanos_value(shifted.timestamp_nanos_opt())
}

/// `time.diff(ns1, ns2)`: `[years, months, days, hours, minutes, seconds]`
/// between the two instants, in the first one's zone.
pub fn diff(args: &[Value]) -> Result<Value> {
    let a = zoned(args, 0)?;
    let b_ns = match args.get(1) {
        Some(Value::Array(items)) => nanos_of(
            items
                .first()
                .ok_or_else(|| anyhow!("time.diff: empty array"))?,
        )?,
        Some(v) => nanos_of(v)?,
        None => bail!("time.diff: missing operand 2"),
    };
    let b = in_zone(b_ns, &a.zone)?;
    let (a, b) = if a.instant > b.instant {
        (b, a)
    } else {
        (a, b)
    };
    let (x, y) = (a.local, b.local);
    let mut year = i64::from(y.year()) - i64::from(x.year());
    let mut month = i64::from(y.month()) - i64::from(x.month());
    let mut day = i64::from(y.day()) - i64::from(x.day());
    let mut hour = i64::from(y.hour()) - i64::from(x.hour());
    let mut minute = i64::from(y.minute()) - i64::from(x.minute());
    let mut second = i64::from(y.second()) - i64::from(x.second());
    if second < 0 {
        second += 60;
        minute -= 1;
    }
    if minute < 0 {
        minute += 60;
        hour -= 1;
    }
    if hour < 0 {
        hour += 24;
        day -= 1;
    }
    if day < 0 {
        day += days_in_month(x.year(), x.month());
        month -= 1;
    }
    if month < 0 {
        month += 12;
        year -= 1;
    }
    Ok(Value::from(
        [year, month, day, hour, minute, second]
            .map(Value::from)
            .to_vec(),
    ))
}

fn days_in_month(year: i32, month: u32) -> i64 {
    let first = NaiveDate::from_ymd_opt(year, month, 1);
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    };
    match (first, next) {
        (Some(a), Some(b)) => (b - a).num_days(),
        _ => 31,
    }
}

fn shift_days(date: NaiveDate, days: i64) -> Option<NaiveDate> {
    if days >= 0 {
        date.checked_add_days(Days::new(days.unsigned_abs()))
    } else {
        date.checked_sub_days(Days::new(days.unsigned_abs()))
    }
}

/// An instant seen in a zone.
struct Zoned {
    instant: i64,
    local: NaiveDateTime,
    offset_secs: i32,
    abbreviation: String,
    zone: Zone,
}

#[derive(Clone, Copy)]
enum Zone {
    Utc,
    Named(Tz),
}

fn zone(name: &str) -> Result<Zone> {
    match name {
        "" | "UTC" => Ok(Zone::Utc),
        "Local" => bail!("the sandbox has no local time zone; name one, e.g. \"Europe/Berlin\""),
        _ => name
            .parse::<Tz>()
            .map(Zone::Named)
            .map_err(|_| anyhow!("unknown time zone `{name}`")),
    }
}

/// Argument `index` as `ns` or `[ns, tz, ...]`.
fn zoned(args: &[Value], index: usize) -> Result<Zoned> {
    match args.get(index) {
        Some(Value::Array(items)) => {
            let ns = nanos_of(items.first().ok_or_else(|| anyhow!("expected [ns, tz]"))?)?;
            let tz = match items.get(1) {
                Some(v) => zone(as_str(v)?)?,
                None => Zone::Utc,
            };
            in_zone(ns, &tz)
        }
        Some(v) => in_zone(nanos_of(v)?, &Zone::Utc),
        None => bail!("missing operand {}", index + 1),
    }
}

fn in_zone(ns: i64, zone: &Zone) -> Result<Zoned> {
    let at = utc(ns)?;
    Ok(match zone {
        Zone::Utc => Zoned {
            instant: ns,
            local: at.naive_utc(),
            offset_secs: 0,
            abbreviation: "UTC".into(),
            zone: Zone::Utc,
        },
        Zone::Named(tz) => {
            let local = at.with_timezone(tz);
            let offset = local.offset();
            Zoned {
                instant: ns,
                local: local.naive_local(),
                offset_secs: offset.fix().local_minus_utc(),
                abbreviation: offset.abbreviation().unwrap_or("").to_string(),
                zone: Zone::Named(*tz),
            }
        }
    })
}

fn utc(ns: i64) -> Result<DateTime<Utc>> {
    Ok(Utc.timestamp_nanos(ns))
}

fn nanos_arg(args: &[Value], index: usize) -> Result<i64> {
    nanos_of(
        args.get(index)
            .ok_or_else(|| anyhow!("missing operand {}", index + 1))?,
    )
}

fn nanos_of(value: &Value) -> Result<i64> {
    int(value)
}

fn int(value: &Value) -> Result<i64> {
    match value {
        Value::Number(_) => value
            .as_i64()
            .or_else(|_| value.as_f64().map(|f| f as i64))
            .map_err(|_| anyhow!("expected an integer")),
        _ => bail!("expected a number"),
    }
}

fn as_str(value: &Value) -> Result<&str> {
    match value {
        Value::String(s) => Ok(s.as_ref()),
        _ => bail!("expected a string"),
    }
}

fn nanos_value(nanos: Option<i64>) -> Result<Value> {
    nanos
        .map(Value::from)
        .ok_or_else(|| anyhow!("time is outside the range of nanoseconds since 1970 in an int64"))
}

/// OPA accepts Go's layout constants by name.
fn named_layout(layout: &str) -> &str {
    match layout {
        "ANSIC" => "Mon Jan _2 15:04:05 2006",
        "UnixDate" => "Mon Jan _2 15:04:05 MST 2006",
        "RubyDate" => "Mon Jan 02 15:04:05 -0700 2006",
        "RFC822" => "02 Jan 06 15:04 MST",
        "RFC822Z" => "02 Jan 06 15:04 -0700",
        "RFC850" => "Monday, 02-Jan-06 15:04:05 MST",
        "RFC1123" => "Mon, 02 Jan 2006 15:04:05 MST",
        "RFC1123Z" => "Mon, 02 Jan 2006 15:04:05 -0700",
        "RFC3339" => "2006-01-02T15:04:05Z07:00",
        "RFC3339Nano" => RFC3339_NANO,
        "Kitchen" => "3:04PM",
        "Stamp" => "Jan _2 15:04:05",
        "StampMilli" => "Jan _2 15:04:05.000",
        "StampMicro" => "Jan _2 15:04:05.000000",
        "StampNano" => "Jan _2 15:04:05.000000000",
        "DateTime" => "2006-01-02 15:04:05",
        "DateOnly" => "2006-01-02",
        "TimeOnly" => "15:04:05",
        other => other,
    }
}

const LONG_DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const LONG_MONTHS: [&str; 12] = [
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

/// One element of a Go layout.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Chunk<'a> {
    Literal(&'a str),
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekday,
    Weekday,
    Day,
    UnderDay,
    ZeroDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    PM {
        upper: bool,
    },
    ZoneName,
    /// A numeric offset: `Z` allowed for UTC, a colon between parts, and
    /// whether minutes and seconds are written.
    Offset {
        z: bool,
        colon: bool,
        minutes: bool,
        seconds: bool,
    },
    /// `.000` (`zeros`: fixed width) or `.999` (trailing zeros trimmed).
    Fraction {
        digits: usize,
        zeros: bool,
    },
}

/// Splits a Go layout into chunks, recognising the same reference values as
/// Go's `time` package.
fn chunks(layout: &str) -> Vec<Chunk<'_>> {
    use Chunk::*;
    const TABLE: &[(&str, Chunk<'static>)] = &[
        ("January", LongMonth),
        ("Jan", Month),
        ("Monday", LongWeekday),
        ("Mon", Weekday),
        ("MST", ZoneName),
        ("002", ZeroYearDay),
        ("01", ZeroMonth),
        ("02", ZeroDay),
        ("03", ZeroHour12),
        ("04", ZeroMinute),
        ("05", ZeroSecond),
        ("06", Year),
        ("15", Hour),
        ("2006", LongYear),
        ("_2", UnderDay),
        ("1", NumMonth),
        ("2", Day),
        ("3", Hour12),
        ("4", Minute),
        ("5", Second),
        ("PM", PM { upper: true }),
        ("pm", PM { upper: false }),
        (
            "-07:00:00",
            Offset {
                z: false,
                colon: true,
                minutes: true,
                seconds: true,
            },
        ),
        (
            "-070000",
            Offset {
                z: false,
                colon: false,
                minutes: true,
                seconds: true,
            },
        ),
        (
            "-07:00",
            Offset {
                z: false,
                colon: true,
                minutes: true,
                seconds: false,
            },
        ),
        (
            "-0700",
            Offset {
                z: false,
                colon: false,
                minutes: true,
                seconds: false,
            },
        ),
        (
            "-07",
            Offset {
                z: false,
                colon: false,
                minutes: false,
                seconds: false,
            },
        ),
        (
            "Z07:00:00",
            Offset {
                z: true,
                colon: true,
                minutes: true,
                seconds: true,
            },
        ),
        (
            "Z070000",
            Offset {
                z: true,
                colon: false,
                minutes: true,
                seconds: true,
            },
        ),
        (
            "Z07:00",
            Offset {
                z: true,
                colon: true,
                minutes: true,
                seconds: false,
            },
        ),
        (
            "Z0700",
            Offset {
                z: true,
                colon: false,
                minutes: true,
                seconds: false,
            },
        ),
        (
            "Z07",
            Offset {
                z: true,
                colon: false,
                minutes: false,
                seconds: false,
            },
        ),
    ];
    let mut out = Vec::new();
    let mut literal_start = 0;
    let mut i = 0;
    let bytes = layout.as_bytes();
    while i < layout.len() {
        let rest = &layout[i..];
        let found = fraction(rest).or_else(|| {
            TABLE
                .iter()
                .find(|(token, _)| rest.starts_with(token))
                .map(|&(token, chunk)| (token.len(), chunk))
        });
        match found {
            Some((len, chunk)) => {
                if literal_start < i {
                    out.push(Literal(&layout[literal_start..i]));
                }
                out.push(chunk);
                i += len;
                literal_start = i;
            }
            None => i += rest.chars().next().map_or(1, char::len_utf8),
        }
        debug_assert!(i <= bytes.len());
    }
    if literal_start < layout.len() {
        out.push(Literal(&layout[literal_start..]));
    }
    out
}

/// `.000…` or `.999…` (or with a comma) not followed by another digit.
fn fraction(rest: &str) -> Option<(usize, Chunk<'static>)> {
    let bytes = rest.as_bytes();
    if !matches!(bytes.first(), Some(b'.' | b',')) {
        return None;
    }
    let digit = *bytes.get(1)?;
    if digit != b'0' && digit != b'9' {
        return None;
    }
    let run = bytes[1..].iter().take_while(|&&b| b == digit).count();
    if bytes.get(1 + run).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    Some((
        1 + run,
        Chunk::Fraction {
            digits: run,
            zeros: digit == b'0',
        },
    ))
}

fn format_layout(t: &Zoned, layout: &str) -> String {
    let d = &t.local;
    let mut out = String::new();
    let hour12 = match d.hour() % 12 {
        0 => 12,
        h => h,
    };
    for chunk in chunks(layout) {
        match chunk {
            Chunk::Literal(s) => out.push_str(s),
            Chunk::LongMonth => out.push_str(LONG_MONTHS[d.month0() as usize]),
            Chunk::Month => out.push_str(&LONG_MONTHS[d.month0() as usize][..3]),
            Chunk::NumMonth => out.push_str(&d.month().to_string()),
            Chunk::ZeroMonth => out.push_str(&format!("{:02}", d.month())),
            Chunk::LongWeekday => {
                out.push_str(LONG_DAYS[d.weekday().num_days_from_monday() as usize])
            }
            Chunk::Weekday => {
                out.push_str(&LONG_DAYS[d.weekday().num_days_from_monday() as usize][..3])
            }
            Chunk::Day => out.push_str(&d.day().to_string()),
            Chunk::UnderDay => out.push_str(&format!("{:>2}", d.day())),
            Chunk::ZeroDay => out.push_str(&format!("{:02}", d.day())),
            Chunk::ZeroYearDay => out.push_str(&format!("{:03}", d.ordinal())),
            Chunk::Hour => out.push_str(&format!("{:02}", d.hour())),
            Chunk::Hour12 => out.push_str(&hour12.to_string()),
            Chunk::ZeroHour12 => out.push_str(&format!("{hour12:02}")),
            Chunk::Minute => out.push_str(&d.minute().to_string()),
            Chunk::ZeroMinute => out.push_str(&format!("{:02}", d.minute())),
            Chunk::Second => out.push_str(&d.second().to_string()),
            Chunk::ZeroSecond => out.push_str(&format!("{:02}", d.second())),
            Chunk::LongYear => out.push_str(&format!("{:04}", d.year())),
            Chunk::Year => out.push_str(&format!("{:02}", d.year().rem_euclid(100))),
            Chunk::PM { upper } => out.push_str(match (d.hour() >= 12, upper) {
                (true, true) => "PM",
                (true, false) => "pm",
                (false, true) => "AM",
                (false, false) => "am",
            }),
            Chunk::ZoneName => out.push_str(&zone_name(t)),
            Chunk::Offset {
                z,
                colon,
                minutes,
                seconds,
            } => out.push_str(&format_offset(t.offset_secs, z, colon, minutes, seconds)),
            Chunk::Fraction { digits, zeros } => {
                out.push_str(&format_fraction(d.nanosecond(), digits, zeros))
            }
        }
    }
    out
}

fn zone_name(t: &Zoned) -> String {
    if !t.abbreviation.is_empty() && !t.abbreviation.starts_with(['+', '-']) {
        return t.abbreviation.clone();
    }
    // Go writes a zone without an abbreviation as its offset, e.g. "-0300".
    format_offset(t.offset_secs, false, false, true, false)
}

fn format_offset(offset: i32, z: bool, colon: bool, minutes: bool, seconds: bool) -> String {
    if z && offset == 0 {
        return "Z".into();
    }
    let sign = if offset < 0 { '-' } else { '+' };
    let abs = offset.unsigned_abs();
    let mut out = format!("{sign}{:02}", abs / 3600);
    let sep = if colon { ":" } else { "" };
    if minutes {
        out.push_str(&format!("{sep}{:02}", abs / 60 % 60));
    }
    if seconds {
        out.push_str(&format!("{sep}{:02}", abs % 60));
    }
    out
}

fn format_fraction(nanos: u32, digits: usize, zeros: bool) -> String {
    let all = format!("{:09}", nanos % 1_000_000_000);
    let digits = digits.min(9);
    let mut kept = all[..digits].to_string();
    if !zeros {
        while kept.ends_with('0') {
            kept.pop();
        }
        if kept.is_empty() {
            return String::new();
        }
    }
    format!(".{kept}")
}

/// Fields read from a value, before they are validated together.
#[derive(Default)]
struct Parsed {
    year: Option<i32>,
    month: Option<u32>,
    day: Option<u32>,
    year_day: Option<u32>,
    hour: u32,
    minute: u32,
    second: u32,
    nanos: u32,
    pm: Option<bool>,
    offset: i32,
}

fn parse_layout(layout: &str, value: &str) -> Result<i64> {
    let chunks = chunks(layout);
    let mut p = Parsed::default();
    let mut rest = value;
    for (index, chunk) in chunks.iter().enumerate() {
        rest = parse_chunk(*chunk, rest, &mut p)?;
        // Go accepts a fractional second after seconds even when the layout
        // has none.
        let next_is_fraction = matches!(chunks.get(index + 1), Some(Chunk::Fraction { .. }));
        if matches!(chunk, Chunk::Second | Chunk::ZeroSecond) && !next_is_fraction {
            let b = rest.as_bytes();
            if b.len() > 1 && matches!(b[0], b'.' | b',') && b[1].is_ascii_digit() {
                rest = parse_chunk(
                    Chunk::Fraction {
                        digits: 9,
                        zeros: false,
                    },
                    rest,
                    &mut p,
                )?;
            }
        }
    }
    if !rest.is_empty() {
        bail!("extra text `{rest}`");
    }
    let mut hour = p.hour;
    match p.pm {
        Some(true) if hour < 12 => hour += 12,
        Some(false) if hour == 12 => hour = 0,
        _ => {}
    }
    let year = p.year.unwrap_or(0);
    let date = match (p.year_day, p.month, p.day) {
        (Some(yday), None, None) => NaiveDate::from_yo_opt(year, yday),
        _ => NaiveDate::from_ymd_opt(year, p.month.unwrap_or(1), p.day.unwrap_or(1)),
    }
    .ok_or_else(|| anyhow!("day out of range"))?;
    let local = date
        .and_hms_nano_opt(hour, p.minute, p.second, p.nanos)
        .ok_or_else(|| anyhow!("time out of range"))?;
    let seconds = local.and_utc().timestamp() - i64::from(p.offset);
    seconds
        .checked_mul(NANOS_PER_SEC)
        .and_then(|ns| ns.checked_add(i64::from(p.nanos)))
        .ok_or_else(|| anyhow!("time out of range"))
}

fn parse_chunk<'v>(chunk: Chunk<'_>, rest: &'v str, p: &mut Parsed) -> Result<&'v str> {
    Ok(match chunk {
        Chunk::Literal(lit) => rest
            .strip_prefix(lit)
            .ok_or_else(|| anyhow!("expected `{lit}` at `{rest}`"))?,
        Chunk::LongYear => {
            let (year, rest) = digits(rest, 4, 4)?;
            p.year = Some(i32::try_from(year)?);
            rest
        }
        Chunk::Year => {
            let (year, rest) = digits(rest, 2, 2)?;
            p.year = Some(if year >= 69 {
                1900 + year as i32
            } else {
                2000 + year as i32
            });
            rest
        }
        Chunk::LongMonth | Chunk::Month => {
            let long = chunk == Chunk::LongMonth;
            let (index, rest) = name(rest, &LONG_MONTHS, long)?;
            p.month = Some(index as u32 + 1);
            rest
        }
        Chunk::LongWeekday | Chunk::Weekday => {
            name(rest, &LONG_DAYS, chunk == Chunk::LongWeekday)?.1
        }
        Chunk::NumMonth | Chunk::ZeroMonth => {
            let (month, rest) = digits(rest, usize::from(chunk == Chunk::ZeroMonth) + 1, 2)?;
            if !(1..=12).contains(&month) {
                bail!("month out of range");
            }
            p.month = Some(month);
            rest
        }
        Chunk::Day | Chunk::UnderDay | Chunk::ZeroDay => {
            let rest = if chunk == Chunk::UnderDay {
                rest.strip_prefix(' ').unwrap_or(rest)
            } else {
                rest
            };
            let (day, rest) = digits(rest, usize::from(chunk == Chunk::ZeroDay) + 1, 2)?;
            p.day = Some(day);
            rest
        }
        Chunk::ZeroYearDay => {
            let (yday, rest) = digits(rest, 3, 3)?;
            p.year_day = Some(yday);
            rest
        }
        Chunk::Hour => {
            let (hour, rest) = digits(rest, 1, 2)?;
            if hour > 23 {
                bail!("hour out of range");
            }
            p.hour = hour;
            rest
        }
        Chunk::Hour12 | Chunk::ZeroHour12 => {
            let (hour, rest) = digits(rest, usize::from(chunk == Chunk::ZeroHour12) + 1, 2)?;
            if !(1..=12).contains(&hour) {
                bail!("hour out of range");
            }
            p.hour = hour;
            rest
        }
        Chunk::Minute | Chunk::ZeroMinute => {
            let (minute, rest) = digits(rest, usize::from(chunk == Chunk::ZeroMinute) + 1, 2)?;
            if minute > 59 {
                bail!("minute out of range");
            }
            p.minute = minute;
            rest
        }
        Chunk::Second | Chunk::ZeroSecond => {
            let (second, rest) = digits(rest, usize::from(chunk == Chunk::ZeroSecond) + 1, 2)?;
            if second > 59 {
                bail!("second out of range");
            }
            p.second = second;
            rest
        }
        Chunk::PM { .. } => {
            let head = rest.get(..2).ok_or_else(|| anyhow!("expected AM or PM"))?;
            p.pm = Some(match head.to_ascii_uppercase().as_str() {
                "AM" => false,
                "PM" => true,
                _ => bail!("expected AM or PM at `{rest}`"),
            });
            &rest[2..]
        }
        Chunk::ZoneName => {
            if let Some(after) = rest.strip_prefix("UTC") {
                after
            } else {
                // Go accepts an unknown abbreviation with a zero offset.
                let len = rest.bytes().take_while(u8::is_ascii_uppercase).count();
                if !(3..=5).contains(&len) {
                    bail!("expected a time zone abbreviation at `{rest}`");
                }
                &rest[len..]
            }
        }
        Chunk::Offset {
            z,
            colon,
            minutes,
            seconds,
        } => {
            if z && let Some(after) = rest.strip_prefix('Z') {
                p.offset = 0;
                return Ok(after);
            }
            let sign = match rest.as_bytes().first() {
                Some(b'+') => 1,
                Some(b'-') => -1,
                _ => bail!("expected a time zone offset at `{rest}`"),
            };
            let (hours, mut rest) = digits(&rest[1..], 2, 2)?;
            let mut offset = hours * 3600;
            for (present, scale) in [(minutes, 60), (seconds, 1)] {
                if present {
                    if colon {
                        rest = rest
                            .strip_prefix(':')
                            .ok_or_else(|| anyhow!("expected `:` in offset"))?;
                    }
                    let (n, after) = digits(rest, 2, 2)?;
                    offset += n * scale;
                    rest = after;
                }
            }
            p.offset = sign * i32::try_from(offset)?;
            rest
        }
        Chunk::Fraction {
            digits: width,
            zeros,
        } => {
            let b = rest.as_bytes();
            if !matches!(b.first(), Some(b'.' | b',')) {
                if zeros {
                    bail!("expected a fractional second at `{rest}`");
                }
                return Ok(rest);
            }
            let count = b[1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if (zeros && count != width) || count == 0 {
                bail!("expected {width} fractional digits at `{rest}`");
            }
            let text = &rest[1..1 + count];
            let padded = format!("{:0<9}", &text[..count.min(9)]);
            p.nanos = padded.parse()?;
            &rest[1 + count..]
        }
    })
}

/// Between `min` and `max` ASCII digits.
fn digits(text: &str, min: usize, max: usize) -> Result<(u32, &str)> {
    let count = text
        .bytes()
        .take(max)
        .take_while(u8::is_ascii_digit)
        .count();
    if count < min {
        bail!("expected a number at `{text}`");
    }
    Ok((text[..count].parse()?, &text[count..]))
}

/// A month or day name, in full or its first three letters, any case.
fn name<'v>(text: &'v str, names: &[&str], long: bool) -> Result<(usize, &'v str)> {
    for (index, full) in names.iter().enumerate() {
        let wanted = if long { *full } else { &full[..3] };
        if text
            .get(..wanted.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(wanted))
        {
            return Ok((index, &text[wanted.len()..]));
        }
    }
    bail!("expected a name at `{text}`")
}

/// Go's `time.ParseDuration`: e.g. `1h30m`, `-1.5s`, `300ms`, `0`.
fn parse_duration(text: &str) -> Option<i64> {
    let (negative, mut rest) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    let mut exact: i128 = 0;
    while !rest.is_empty() {
        let number_len = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        let number = &rest[..number_len];
        if number.is_empty() || number == "." {
            return None;
        }
        rest = &rest[number_len..];
        let unit_len = rest
            .bytes()
            .take_while(|b| !b.is_ascii_digit() && *b != b'.')
            .count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let scale: i64 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => NANOS_PER_SEC,
            "m" => 60 * NANOS_PER_SEC,
            "h" => 3600 * NANOS_PER_SEC,
            _ => return None,
        };
        let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
        let whole: i128 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        exact = exact.checked_add(whole.checked_mul(i128::from(scale))?)?;
        if !frac.is_empty() {
            let f: f64 = format!("0.{frac}").parse().ok()?;
            total += f * scale as f64;
        }
    }
    let nanos = exact.checked_add(total as i128)?;
    let nanos = if negative { -nanos } else { nanos };
    i64::try_from(nanos).ok()
}
