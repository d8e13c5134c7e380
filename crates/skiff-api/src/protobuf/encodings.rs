//! The JSON spellings Kubernetes gives its special protobuf messages and bytes:
//! RFC 3339 times, Go duration strings and standard base64.

use chrono::DateTime;

/// Seconds since the epoch of Go's zero `time.Time` (0001-01-01T00:00:00Z), which
/// `metav1.Time` marshals as JSON `null`.
const GO_ZERO_TIME_UNIX_SECONDS: i64 = -62_135_596_800;

const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// `metav1.Time` as JSON: `null` for the zero time, else RFC 3339 in UTC with whole
/// seconds. Upstream's `Time.Unmarshal` drops the nanoseconds, so the caller passes
/// only seconds.
pub fn time_json(seconds: i64) -> Result<serde_json::Value, String> {
    if seconds == GO_ZERO_TIME_UNIX_SECONDS {
        return Ok(serde_json::Value::Null);
    }
    let time = in_json_range(seconds, 0)?;
    Ok(time.format("%Y-%m-%dT%H:%M:%SZ").to_string().into())
}

/// `metav1.MicroTime` as JSON: `null` for the zero time, else RFC 3339 in UTC with
/// exactly 6 fractional digits (truncated, as Go's formatter does).
pub fn micro_time_json(seconds: i64, nanos: i32) -> Result<serde_json::Value, String> {
    // time.Unix normalises nanoseconds outside [0, 1e9) into the seconds.
    let nanos = i64::from(nanos);
    let seconds = seconds
        .checked_add(nanos.div_euclid(NANOS_PER_SECOND))
        .ok_or_else(|| "time out of range".to_string())?;
    let nanos = nanos.rem_euclid(NANOS_PER_SECOND);
    if seconds == GO_ZERO_TIME_UNIX_SECONDS && nanos == 0 {
        return Ok(serde_json::Value::Null);
    }
    let time = in_json_range(seconds, nanos as u32)?;
    Ok(format!("{}.{:06}Z", time.format("%Y-%m-%dT%H:%M:%S"), nanos / 1_000).into())
}

/// The instant, if RFC 3339 can spell it (Go's `Time.MarshalJSON` refuses other years).
fn in_json_range(seconds: i64, nanos: u32) -> Result<DateTime<chrono::Utc>, String> {
    use chrono::Datelike;
    DateTime::from_timestamp(seconds, nanos)
        .filter(|time| (0..=9999).contains(&time.year()))
        .ok_or_else(|| "Time.MarshalJSON: year outside of range [0,9999]".to_string())
}

/// Go's `time.Duration.String()`: `0s`, `1.5µs`, `300ms`, `1h2m3.004s`, `-1m0s`.
pub fn go_duration_string(nanoseconds: i64) -> String {
    let sign = if nanoseconds < 0 { "-" } else { "" };
    let magnitude = nanoseconds.unsigned_abs();
    if magnitude == 0 {
        return "0s".to_string();
    }
    if magnitude < 1_000_000_000 {
        // Below a second Go switches to the largest unit that keeps an integer part.
        let (unit, decimals) = match magnitude {
            0..1_000 => ("ns", 0),
            1_000..1_000_000 => ("µs", 3),
            _ => ("ms", 6),
        };
        let (whole, fraction) = split_decimal(magnitude, decimals);
        return format!("{sign}{whole}{fraction}{unit}");
    }
    let (whole_seconds, fraction) = split_decimal(magnitude, 9);
    let seconds = whole_seconds % 60;
    let minutes = whole_seconds / 60 % 60;
    let hours = whole_seconds / 3600;
    match (hours, whole_seconds / 60) {
        (0, 0) => format!("{sign}{seconds}{fraction}s"),
        (0, _) => format!("{sign}{minutes}m{seconds}{fraction}s"),
        _ => format!("{sign}{hours}h{minutes}m{seconds}{fraction}s"),
    }
}

/// `value / 10^decimals` as (integer part, `.digits` with trailing zeros dropped or
/// empty), as Go's `fmtFrac` prints it.
fn split_decimal(value: u64, decimals: u32) -> (u64, String) {
    let scale = 10u64.pow(decimals);
    let fraction = value % scale;
    if fraction == 0 {
        return (value / scale, String::new());
    }
    let digits = format!("{fraction:0width$}", width = decimals as usize);
    (value / scale, format!(".{}", digits.trim_end_matches('0')))
}

/// Standard base64 with padding, as Go's `encoding/json` writes `[]byte`.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut encoded = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let triple = (u32::from(chunk[0]) << 16)
            | (u32::from(chunk.get(1).copied().unwrap_or(0)) << 8)
            | u32::from(chunk.get(2).copied().unwrap_or(0));
        for position in 0..4 {
            if position <= chunk.len() {
                let index = (triple >> (18 - 6 * position)) & 0x3f;
                encoded.push(ALPHABET[index as usize] as char);
            } else {
                encoded.push('=');
            }
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_like_go() {
        let cases = [
            (0, "0s"),
            (1, "1ns"),
            (1_500, "1.5µs"),
            (300_000_000, "300ms"),
            (1_000_000_000, "1s"),
            (90 * 1_000_000_000, "1m30s"),
            (3_600 * 1_000_000_000, "1h0m0s"),
            (3_723_004_000_000, "1h2m3.004s"),
            (-60 * 1_000_000_000, "-1m0s"),
            (i64::MIN, "-2562047h47m16.854775808s"),
        ];
        for (nanoseconds, expected) in cases {
            assert_eq!(go_duration_string(nanoseconds), expected, "{nanoseconds}");
        }
    }

    #[test]
    fn base64_pads_like_go() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"h"), "aA==");
        assert_eq!(base64(b"hi"), "aGk=");
        assert_eq!(base64(b"hi\0"), "aGkA");
        assert_eq!(base64(b"hi\0\xff"), "aGkA/w==");
    }

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(time_json(1_795_302_000).unwrap(), "2026-11-21T23:00:00Z");
        assert_eq!(time_json(0).unwrap(), "1970-01-01T00:00:00Z");
        assert!(time_json(GO_ZERO_TIME_UNIX_SECONDS).unwrap().is_null());
        assert!(time_json(i64::MAX).is_err());
        assert_eq!(
            micro_time_json(1_795_302_000, 123_456_789).unwrap(),
            "2026-11-21T23:00:00.123456Z"
        );
        assert_eq!(
            micro_time_json(1_795_302_000, -1_000).unwrap(),
            "2026-11-21T22:59:59.999999Z"
        );
        assert!(micro_time_json(i64::MAX, 999_999_999).is_err());
    }
}
