//! Resource quantities (`resource.Quantity` in `k8s.io/apimachinery/pkg/api/resource`):
//! the one parser behind validation's form check and requests ≤ limits
//! comparison, and behind the scheduler's millicores and bytes.
//!
//! [`Quantity::parse`] reads the text exactly, in units of 10⁻⁹; [`milli_value`]
//! and [`value`] read an API object's quantity rounded up, as upstream's
//! `MilliValue()` and `Value()` do.

use k8s_openapi::apimachinery::pkg::api::resource as api;

/// The form every quantity must have, as upstream's parse error states it.
pub const QUANTITY_FORMAT_ERROR: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

/// A parsed quantity, in units of 10⁻⁹ (upstream's finest scale).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Quantity {
    nanos: i128,
}

impl Quantity {
    /// Parses `100m`, `0.1`, `128Mi`, `1e3`…; `None` when the text is not a
    /// quantity or too large to hold.
    pub fn parse(text: &str) -> Option<Quantity> {
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
        // value = digits × 10^(decimal_exponent − len(fraction)) × 1024^binary_exponent, in nanos.
        let mut scale = decimal_exponent - fraction.len() as i32 + 9;
        let mut nanos = digits.checked_mul(1024i128.checked_pow(binary_exponent)?)?;
        while scale > 0 {
            nanos = nanos.checked_mul(10)?;
            scale -= 1;
        }
        while scale < 0 {
            // Upstream rounds values finer than a nano up.
            nanos = (nanos + 9) / 10;
            scale += 1;
        }
        Some(Quantity {
            nanos: if negative { -nanos } else { nanos },
        })
    }

    pub fn is_negative(&self) -> bool {
        self.nanos < 0
    }

    /// The quantity in units of `nanos_per_unit` nanos, rounded away from zero as
    /// upstream does for positive values; `None` beyond 64 bits.
    fn in_units_of(&self, nanos_per_unit: i128) -> Option<i64> {
        let units = if self.nanos >= 0 {
            (self.nanos + nanos_per_unit - 1) / nanos_per_unit
        } else {
            self.nanos / nanos_per_unit
        };
        i64::try_from(units).ok()
    }
}

/// Why an API object's quantity could not be read as a number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The text is not of the form `<number><suffix>`.
    #[error("failed to parse quantity {0:?}")]
    Malformed(String),
    /// The value does not fit in 64 bits at the scale asked for.
    #[error("failed to represent quantity {0:?}: out of range")]
    OutOfRange(String),
}

/// The quantity in thousandths of a unit (millicores for CPU), rounded up
/// (`MilliValue()`).
pub fn milli_value(quantity: &api::Quantity) -> Result<i64, Error> {
    scaled(&quantity.0, 1_000_000)
}

/// The quantity in whole units (bytes for memory, a count for pods), rounded up
/// (`Value()`).
pub fn value(quantity: &api::Quantity) -> Result<i64, Error> {
    scaled(&quantity.0, 1_000_000_000)
}

/// Parses `text` (surrounding white space allowed) and expresses it in units of
/// `nanos_per_unit` nanos.
fn scaled(text: &str, nanos_per_unit: i128) -> Result<i64, Error> {
    let quantity =
        Quantity::parse(text.trim()).ok_or_else(|| Error::Malformed(text.to_string()))?;
    quantity
        .in_units_of(nanos_per_unit)
        .ok_or_else(|| Error::OutOfRange(text.to_string()))
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
        Quantity::parse(text).unwrap_or_else(|| panic!("{text} should parse"))
    }

    /// An API object's quantity, as the scheduler reads it.
    fn api_q(text: &str) -> api::Quantity {
        api::Quantity(text.to_string())
    }

    #[test]
    fn should_compare_cpu_quantities_exactly() {
        assert_eq!(q("0.1"), q("100m"));
        assert_eq!(q("1"), q("1000m"));
        assert!(q("250m") < q("1"));
    }

    #[test]
    fn should_understand_binary_and_decimal_suffixes() {
        assert_eq!(q("1Ki"), q("1024"));
        assert_eq!(q("1k"), q("1000"));
        assert_eq!(q("1e3"), q("1k"));
        assert!(q("128Mi") > q("100M"));
        assert!(q("-1").is_negative());
    }

    #[test]
    fn should_refuse_text_that_is_not_a_quantity() {
        for text in ["", "abc", "1..2", "1Xi", "m", "1e", "e+", "1e+"] {
            assert!(Quantity::parse(text).is_none(), "{text}");
            assert!(
                matches!(value(&api_q(text)), Err(Error::Malformed(_))),
                "{text}"
            );
        }
    }

    #[test]
    fn should_read_cpu_in_millicores() {
        assert_eq!(milli_value(&api_q("100m")), Ok(100));
        assert_eq!(milli_value(&api_q("0.5")), Ok(500));
        assert_eq!(milli_value(&api_q("2")), Ok(2000));
        assert_eq!(milli_value(&api_q("1e3")), Ok(1_000_000));
    }

    #[test]
    fn should_round_fractions_of_a_millicore_up() {
        assert_eq!(milli_value(&api_q("100u")), Ok(1));
        assert_eq!(milli_value(&api_q("1n")), Ok(1));
    }

    #[test]
    fn should_read_memory_in_bytes() {
        assert_eq!(value(&api_q("128Mi")), Ok(128 * 1024 * 1024));
        assert_eq!(value(&api_q("1G")), Ok(1_000_000_000));
        assert_eq!(value(&api_q("64Gi")), Ok(64 * 1024 * 1024 * 1024));
        assert_eq!(value(&api_q("110")), Ok(110));
        assert_eq!(value(&api_q("1.5Ki")), Ok(1536));
    }

    #[test]
    fn should_read_an_api_quantity_with_surrounding_white_space() {
        assert_eq!(value(&api_q(" 2Ki ")), Ok(2048));
        assert!(Quantity::parse(" 2Ki ").is_none());
    }

    #[test]
    fn should_refuse_values_beyond_64_bits() {
        assert!(matches!(value(&api_q("100E")), Err(Error::OutOfRange(_))));
    }
}
