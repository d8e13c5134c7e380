//! Resource quantities as the scheduler counts them: CPU in millicores and
//! everything else in whole units, both rounded up as `resource.Quantity`'s
//! `MilliValue()` and `Value()` do (`k8s.io/apimachinery/pkg/api/resource`).

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// Why a quantity could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The text is not of the form `<number><suffix>`.
    #[error("failed to parse quantity {0:?}")]
    Malformed(String),
    /// The value does not fit in 64 bits at the scale asked for.
    #[error("failed to represent quantity {0:?}: out of range")]
    OutOfRange(String),
}

/// The quantity in thousandths of a unit (millicores for CPU), rounded up.
pub fn milli_value(quantity: &Quantity) -> Result<i64, Error> {
    scaled(&quantity.0, 1_000_000)
}

/// The quantity in whole units (bytes for memory, a count for pods), rounded up.
pub fn value(quantity: &Quantity) -> Result<i64, Error> {
    scaled(&quantity.0, 1_000_000_000)
}

/// Parses `text` into nanos (upstream's finest scale) and divides by `nanos_per_unit`,
/// rounding away from zero as upstream does for positive values.
fn scaled(text: &str, nanos_per_unit: i128) -> Result<i64, Error> {
    let nanos = parse_nanos(text.trim()).ok_or_else(|| Error::Malformed(text.to_string()))?;
    let units = if nanos >= 0 {
        (nanos + nanos_per_unit - 1) / nanos_per_unit
    } else {
        nanos / nanos_per_unit
    };
    i64::try_from(units).map_err(|_| Error::OutOfRange(text.to_string()))
}

/// `100m`, `0.5`, `128Mi`, `1e3`… in units of 10⁻⁹; `None` when malformed or huge.
fn parse_nanos(text: &str) -> Option<i128> {
    let (negative, unsigned) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let number_len = unsigned
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(unsigned.len());
    let (number, suffix) = unsigned.split_at(number_len);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
        return None;
    }
    let (decimal_exponent, binary_exponent) = parse_suffix(suffix)?;
    let digits: i128 = format!("{whole}{fraction}").parse().ok()?;
    let mut nanos = digits.checked_mul(1024i128.checked_pow(binary_exponent)?)?;
    let mut scale = decimal_exponent - fraction.len() as i32 + 9;
    while scale > 0 {
        nanos = nanos.checked_mul(10)?;
        scale -= 1;
    }
    while scale < 0 {
        // Finer than a nano: upstream rounds up.
        nanos = (nanos + 9) / 10;
        scale += 1;
    }
    Some(if negative { -nanos } else { nanos })
}

/// The suffix as (power of ten, power of 1024).
fn parse_suffix(suffix: &str) -> Option<(i32, u32)> {
    let decimal = |exponent: i32| Some((exponent, 0));
    match suffix {
        "" => decimal(0),
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        "Ki" => Some((0, 1)),
        "Mi" => Some((0, 2)),
        "Gi" => Some((0, 3)),
        "Ti" => Some((0, 4)),
        "Pi" => Some((0, 5)),
        "Ei" => Some((0, 6)),
        _ => {
            let exponent = suffix.strip_prefix(['e', 'E'])?;
            let digits = exponent.trim_start_matches(['+', '-']);
            if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            decimal(exponent.parse().ok()?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(text: &str) -> Quantity {
        Quantity(text.to_string())
    }

    #[test]
    fn should_read_cpu_in_millicores() {
        assert_eq!(milli_value(&q("100m")), Ok(100));
        assert_eq!(milli_value(&q("0.5")), Ok(500));
        assert_eq!(milli_value(&q("2")), Ok(2000));
        assert_eq!(milli_value(&q("1e3")), Ok(1_000_000));
    }

    #[test]
    fn should_round_fractions_of_a_millicore_up() {
        assert_eq!(milli_value(&q("100u")), Ok(1));
        assert_eq!(milli_value(&q("1n")), Ok(1));
    }

    #[test]
    fn should_read_memory_in_bytes() {
        assert_eq!(value(&q("128Mi")), Ok(128 * 1024 * 1024));
        assert_eq!(value(&q("1G")), Ok(1_000_000_000));
        assert_eq!(value(&q("64Gi")), Ok(64 * 1024 * 1024 * 1024));
        assert_eq!(value(&q("110")), Ok(110));
        assert_eq!(value(&q("1.5Ki")), Ok(1536));
    }

    #[test]
    fn should_refuse_text_that_is_not_a_quantity() {
        for text in ["", "abc", "1..2", "1Xi", "m", "1e"] {
            assert!(
                matches!(value(&q(text)), Err(Error::Malformed(_))),
                "{text}"
            );
        }
    }

    #[test]
    fn should_refuse_values_beyond_64_bits() {
        assert!(matches!(value(&q("100E")), Err(Error::OutOfRange(_))));
    }
}
