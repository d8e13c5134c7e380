//! Just enough of `resource.Quantity` (`k8s.io/apimachinery/pkg/api/resource`) to
//! check a quantity's form and compare two of them exactly, as container resource
//! validation needs (requests may not exceed limits).

/// The form every quantity must have, as upstream's parse error states it.
pub const QUANTITY_FORMAT_ERROR: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

/// A parsed quantity, in units of 10⁻⁹ (upstream's finest scale).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Quantity {
    nanos: i128,
}

impl Quantity {
    /// Parses `100m`, `0.1`, `128Mi`, `1e3`…; `None` when the text is not a quantity.
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
        let digits: i128 = format!("{whole}{fraction}")
            .parse()
            .ok()
            .or(Some(0).filter(|_| whole.is_empty() && fraction.is_empty()))?;
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
}

/// The suffix as (power of ten, power of 1024).
fn parse_suffix(suffix: &str) -> Option<(i32, u32)> {
    let decimal = |exp: i32| Some((exp, 0));
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
            let exponent = suffix
                .strip_prefix('e')
                .or_else(|| suffix.strip_prefix('E'))?;
            let valid = !exponent.is_empty()
                && exponent
                    .trim_start_matches(['+', '-'])
                    .chars()
                    .all(|c| c.is_ascii_digit());
            if !valid {
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
        for text in ["", "abc", "1..2", "1Xi", "m", "1e"] {
            assert!(Quantity::parse(text).is_none(), "{text}");
        }
    }
}
