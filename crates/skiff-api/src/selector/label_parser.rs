//! The lexer and recursive-descent parser of the label selector query syntax,
//! following the grammar and error texts of k8s.io/apimachinery/pkg/labels/selector.go.

use std::collections::BTreeSet;

use super::requirement::{invalid_key, Operator, Requirement};
use super::SelectorError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Identifier,
    /// `!`
    DoesNotExist,
    Equals,
    DoubleEquals,
    NotEquals,
    GreaterThan,
    LessThan,
    In,
    NotIn,
    OpenPar,
    ClosedPar,
    Comma,
    End,
}

/// Whether `in` and `notin` are keywords here. Upstream reads them as plain
/// identifiers everywhere except where an operator is expected, so
/// `in in (in)` is a valid selector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Context {
    KeyAndOperator,
    Values,
}

/// Parses a whole selector into requirements (unsorted).
pub(super) fn parse(input: &str) -> Result<Vec<Requirement>, SelectorError> {
    let mut parser = Parser {
        items: scan(input),
        position: 0,
    };
    let mut requirements = Vec::new();
    loop {
        let (token, literal) = parser.lookahead(Context::Values);
        match token {
            Token::Identifier | Token::DoesNotExist => {
                requirements.push(parser.requirement().map_err(SelectorError::Requirement)?);
                let (token, literal) = parser.consume(Context::Values);
                match token {
                    Token::End => return Ok(requirements),
                    Token::Comma => {
                        let (next, literal) = parser.lookahead(Context::Values);
                        if !matches!(next, Token::Identifier | Token::DoesNotExist) {
                            return Err(SelectorError::Syntax(format!(
                                "found '{literal}', expected: identifier after ','"
                            )));
                        }
                    }
                    _ => {
                        return Err(SelectorError::Syntax(format!(
                            "found '{literal}', expected: ',' or 'end of string'"
                        )))
                    }
                }
            }
            Token::End => return Ok(requirements),
            _ => {
                return Err(SelectorError::Syntax(format!(
                    "found '{literal}', expected: !, identifier, or 'end of string'"
                )))
            }
        }
    }
}

/// Splits the input into tokens, ending with [`Token::End`].
fn scan(input: &str) -> Vec<(Token, &str)> {
    let bytes = input.as_bytes();
    let mut items = Vec::new();
    let mut pos = 0;
    loop {
        while pos < bytes.len() && is_whitespace(bytes[pos]) {
            pos += 1;
        }
        // Upstream's lexer reads a NUL byte as the end of the input.
        if pos >= bytes.len() || bytes[pos] == 0 {
            items.push((Token::End, ""));
            return items;
        }
        let start = pos;
        let token = if is_special(bytes[pos]) {
            let (token, width) = special_symbol(&bytes[pos..]);
            pos += width;
            token
        } else {
            while pos < bytes.len()
                && !is_special(bytes[pos])
                && !is_whitespace(bytes[pos])
                && bytes[pos] != 0
            {
                pos += 1;
            }
            match &input[start..pos] {
                "in" => Token::In,
                "notin" => Token::NotIn,
                _ => Token::Identifier,
            }
        };
        // Token boundaries are ASCII bytes, so this slice is always on char boundaries.
        items.push((token, &input[start..pos]));
    }
}

/// The longest symbol at the start of `bytes`, which begins with a special byte.
fn special_symbol(bytes: &[u8]) -> (Token, usize) {
    match bytes {
        [b'=', b'=', ..] => (Token::DoubleEquals, 2),
        [b'!', b'=', ..] => (Token::NotEquals, 2),
        [b'=', ..] => (Token::Equals, 1),
        [b'!', ..] => (Token::DoesNotExist, 1),
        [b'>', ..] => (Token::GreaterThan, 1),
        [b'<', ..] => (Token::LessThan, 1),
        [b'(', ..] => (Token::OpenPar, 1),
        [b')', ..] => (Token::ClosedPar, 1),
        _ => (Token::Comma, 1),
    }
}

fn is_whitespace(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special(byte: u8) -> bool {
    matches!(byte, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

struct Parser<'a> {
    items: Vec<(Token, &'a str)>,
    position: usize,
}

impl<'a> Parser<'a> {
    fn lookahead(&self, context: Context) -> (Token, &'a str) {
        // `scan` always ends with End, and `consume` never moves past it.
        let (token, literal) = self.items[self.position.min(self.items.len() - 1)];
        match (context, token) {
            (Context::Values, Token::In | Token::NotIn) => (Token::Identifier, literal),
            _ => (token, literal),
        }
    }

    fn consume(&mut self, context: Context) -> (Token, &'a str) {
        let item = self.lookahead(context);
        if self.position < self.items.len() - 1 {
            self.position += 1;
        }
        item
    }

    /// One requirement; errors are upstream's texts, to be prefixed by the caller.
    fn requirement(&mut self) -> Result<Requirement, String> {
        let (key, unary) = self.key_and_inferred_operator()?;
        if let Some(operator) = unary {
            return Requirement::checked(key, operator, Vec::new());
        }
        let operator = self.binary_operator()?;
        let values = match operator {
            Operator::In | Operator::NotIn => self.value_set()?,
            _ => self.exact_value()?,
        };
        Requirement::checked(key, operator, values.into_iter().collect())
    }

    /// The key, with `Exists` or `DoesNotExist` when the requirement has no binary operator.
    fn key_and_inferred_operator(&mut self) -> Result<(&'a str, Option<Operator>), String> {
        let (mut token, mut literal) = self.consume(Context::Values);
        let mut operator = None;
        if token == Token::DoesNotExist {
            operator = Some(Operator::DoesNotExist);
            (token, literal) = self.consume(Context::Values);
        }
        if token != Token::Identifier {
            return Err(format!("found '{literal}', expected: identifier"));
        }
        if let Some(message) = invalid_key(literal, "<nil>") {
            return Err(message);
        }
        if operator.is_none()
            && matches!(self.lookahead(Context::Values).0, Token::End | Token::Comma)
        {
            operator = Some(Operator::Exists);
        }
        Ok((literal, operator))
    }

    fn binary_operator(&mut self) -> Result<Operator, String> {
        let (token, literal) = self.consume(Context::KeyAndOperator);
        Ok(match token {
            Token::In => Operator::In,
            Token::NotIn => Operator::NotIn,
            Token::Equals => Operator::Equals,
            Token::DoubleEquals => Operator::DoubleEquals,
            Token::NotEquals => Operator::NotEquals,
            Token::GreaterThan => Operator::GreaterThan,
            Token::LessThan => Operator::LessThan,
            _ => {
                return Err(format!(
                    "found '{literal}', expected: in, notin, =, ==, !=, gt, lt"
                ))
            }
        })
    }

    /// `(a,b,...)`; empty entries such as in `(a,)` or `()` stand for the empty value.
    fn value_set(&mut self) -> Result<BTreeSet<String>, String> {
        let (token, literal) = self.consume(Context::Values);
        if token != Token::OpenPar {
            return Err(format!("found '{literal}' expected: '('"));
        }
        let (token, literal) = self.lookahead(Context::Values);
        match token {
            Token::Identifier | Token::Comma => {
                let values = self.identifier_list()?;
                self.consume(Context::Values); // the `)` identifier_list stopped at
                Ok(values)
            }
            Token::ClosedPar => {
                self.consume(Context::Values);
                Ok(BTreeSet::from([String::new()]))
            }
            _ => Err(format!(
                "found '{literal}', expected: ',', ')' or identifier"
            )),
        }
    }

    /// The inside of a value set, up to (not including) its `)`.
    fn identifier_list(&mut self) -> Result<BTreeSet<String>, String> {
        let mut values = BTreeSet::new();
        loop {
            let (token, literal) = self.consume(Context::Values);
            match token {
                Token::Identifier => {
                    values.insert(literal.to_string());
                    let (next, literal) = self.lookahead(Context::Values);
                    match next {
                        Token::Comma => continue,
                        Token::ClosedPar => return Ok(values),
                        _ => return Err(format!("found '{literal}', expected: ',' or ')'")),
                    }
                }
                Token::Comma => {
                    // A comma with nothing before or after it contributes the empty value.
                    if values.is_empty() {
                        values.insert(String::new());
                    }
                    match self.lookahead(Context::Values).0 {
                        Token::ClosedPar => {
                            values.insert(String::new());
                            return Ok(values);
                        }
                        Token::Comma => {
                            self.consume(Context::Values);
                            values.insert(String::new());
                        }
                        _ => {}
                    }
                }
                _ => return Err(format!("found '{literal}', expected: ',', or identifier")),
            }
        }
    }

    /// The single value after `=`, `==`, `!=`, `>` or `<`; nothing means the empty value.
    fn exact_value(&mut self) -> Result<BTreeSet<String>, String> {
        if matches!(self.lookahead(Context::Values).0, Token::End | Token::Comma) {
            return Ok(BTreeSet::from([String::new()]));
        }
        match self.consume(Context::Values) {
            (Token::Identifier, literal) => Ok(BTreeSet::from([literal.to_string()])),
            (_, literal) => Err(format!("found '{literal}', expected: identifier")),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::selector::{LabelSelector, Operator, SelectorError};

    fn parse_error(selector: &str) -> String {
        LabelSelector::parse(selector)
            .expect_err(selector)
            .to_string()
    }

    fn requirement_summary(selector: &str) -> Vec<(String, Operator, Vec<String>)> {
        let parsed = LabelSelector::parse(selector).expect(selector);
        parsed
            .requirements()
            .iter()
            .map(|r| (r.key().to_string(), r.operator(), r.values().to_vec()))
            .collect()
    }

    fn one(key: &str, operator: Operator, values: &[&str]) -> Vec<(String, Operator, Vec<String>)> {
        vec![(
            key.to_string(),
            operator,
            values.iter().map(|v| v.to_string()).collect(),
        )]
    }

    #[test]
    fn should_parse_every_operator() {
        assert_eq!(
            requirement_summary("a=b"),
            one("a", Operator::Equals, &["b"])
        );
        assert_eq!(
            requirement_summary("a==b"),
            one("a", Operator::DoubleEquals, &["b"])
        );
        assert_eq!(
            requirement_summary("a!=b"),
            one("a", Operator::NotEquals, &["b"])
        );
        assert_eq!(
            requirement_summary("a in (y,x)"),
            one("a", Operator::In, &["x", "y"])
        );
        assert_eq!(
            requirement_summary("a notin (x)"),
            one("a", Operator::NotIn, &["x"])
        );
        assert_eq!(requirement_summary("a"), one("a", Operator::Exists, &[]));
        assert_eq!(
            requirement_summary("!a"),
            one("a", Operator::DoesNotExist, &[])
        );
        assert_eq!(
            requirement_summary("a>5"),
            one("a", Operator::GreaterThan, &["5"])
        );
        assert_eq!(
            requirement_summary("a<5"),
            one("a", Operator::LessThan, &["5"])
        );
    }

    #[test]
    fn should_tolerate_whitespace_and_sort_requirements_by_key() {
        let parsed =
            LabelSelector::parse("  tier = front ,\tapp  in( web , api ),  ! canary ").unwrap();
        assert_eq!(parsed.to_string(), "app in (api,web),!canary,tier=front");
    }

    #[test]
    fn should_select_everything_with_an_empty_or_blank_string() {
        assert!(LabelSelector::parse("").unwrap().is_everything());
        assert!(LabelSelector::parse("   ").unwrap().is_everything());
    }

    #[test]
    fn should_read_missing_values_as_the_empty_value() {
        assert_eq!(requirement_summary("a="), one("a", Operator::Equals, &[""]));
        assert_eq!(
            requirement_summary("a in ()"),
            one("a", Operator::In, &[""])
        );
        assert_eq!(
            requirement_summary("a in (x,)"),
            one("a", Operator::In, &["", "x"])
        );
        assert_eq!(
            requirement_summary("a in (,x)"),
            one("a", Operator::In, &["", "x"])
        );
    }

    #[test]
    fn should_treat_in_and_notin_as_identifiers_outside_the_operator_position() {
        assert_eq!(
            requirement_summary("in in (in,notin)"),
            one("in", Operator::In, &["in", "notin"])
        );
        assert_eq!(
            requirement_summary("notin=in"),
            one("notin", Operator::Equals, &["in"])
        );
    }

    #[test]
    fn should_report_a_missing_operator() {
        assert_eq!(
            parse_error("type=app,versionv1.0.1)"),
            "unable to parse requirement: found ')', expected: in, notin, =, ==, !=, gt, lt"
        );
        assert_eq!(
            parse_error("env IN (a)"),
            "unable to parse requirement: found 'IN', expected: in, notin, =, ==, !=, gt, lt"
        );
        assert_eq!(
            parse_error("e!!ss"),
            "unable to parse requirement: found '!', expected: in, notin, =, ==, !=, gt, lt"
        );
    }

    #[test]
    fn should_report_syntax_errors_between_requirements() {
        assert_eq!(
            parse_error("a=b,"),
            "found '', expected: identifier after ','"
        );
        assert_eq!(
            parse_error("a=b c=d"),
            "found 'c', expected: ',' or 'end of string'"
        );
        assert_eq!(
            parse_error(",a"),
            "found ',', expected: !, identifier, or 'end of string'"
        );
        assert_eq!(
            parse_error("!a=b"),
            "found '=', expected: ',' or 'end of string'"
        );
    }

    #[test]
    fn should_report_syntax_errors_inside_a_requirement() {
        assert_eq!(
            parse_error("!"),
            "unable to parse requirement: found '', expected: identifier"
        );
        assert_eq!(
            parse_error("a in x"),
            "unable to parse requirement: found 'x' expected: '('"
        );
        assert_eq!(
            parse_error("a in (=)"),
            "unable to parse requirement: found '=', expected: ',', ')' or identifier"
        );
        assert_eq!(
            parse_error("a in (x y)"),
            "unable to parse requirement: found 'y', expected: ',' or ')'"
        );
        assert_eq!(
            parse_error("a in (x,="),
            "unable to parse requirement: found '=', expected: ',', or identifier"
        );
        assert_eq!(
            parse_error("a=("),
            "unable to parse requirement: found '(', expected: identifier"
        );
    }

    #[test]
    fn should_quote_an_invalid_key_with_a_nil_path_as_kubernetes_does() {
        assert_eq!(
            parse_error("app:monolith"),
            "unable to parse requirement: <nil>: Invalid value: \"app:monolith\": name part must consist of \
             alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character \
             (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is \
             '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        );
        assert!(parse_error("app.kubernetes_io/name=x")
            .starts_with("unable to parse requirement: <nil>: Invalid value: \"app.kubernetes_io/name\": prefix part a lowercase RFC 1123 subdomain"));
    }

    #[test]
    fn should_quote_an_invalid_value_with_its_index_and_key() {
        assert_eq!(
            parse_error("app=-web"),
            "unable to parse requirement: values[0][app]: Invalid value: \"-web\": a valid label must be an empty \
             string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an \
             alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is \
             '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
        );
    }

    #[test]
    fn should_require_integers_for_ordering_operators() {
        let error = LabelSelector::parse("a>b").unwrap_err();
        assert_eq!(
            error,
            SelectorError::Requirement(
                "values[0]: Invalid value: \"b\": for 'Gt', 'Lt' operators, the value must be an integer".to_string()
            )
        );
    }

    #[test]
    fn should_bracket_several_errors_of_one_requirement() {
        let error = parse_error("a in (-x,-y)");
        assert!(
            error.starts_with("unable to parse requirement: [values[0][a]: Invalid value: \"-x\""),
            "{error}"
        );
        assert!(
            error.contains(", values[1][a]: Invalid value: \"-y\""),
            "{error}"
        );
        assert!(error.ends_with("]"), "{error}");
    }

    #[test]
    fn should_stop_at_a_nul_byte_as_upstream_does() {
        assert_eq!(
            requirement_summary("a=b\0junk"),
            one("a", Operator::Equals, &["b"])
        );
    }

    /// A small deterministic generator, so the property tests need no extra crate.
    fn pseudo_random(seed: &mut u64) -> usize {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        (*seed >> 33) as usize
    }

    #[test]
    fn should_never_panic_and_print_what_it_parses_back_to_itself() {
        const PIECES: [&str; 17] = [
            "a", "b.c/d", "in", "notin", "=", "==", "!=", "!", "(", ")", ",", " ", ">", "<", "-",
            "7", "é",
        ];
        let mut seed = 0x5eed_u64;
        for _ in 0..20_000 {
            let length = pseudo_random(&mut seed) % 12;
            let text: String = (0..length)
                .map(|_| PIECES[pseudo_random(&mut seed) % PIECES.len()])
                .collect();
            if let Ok(parsed) = LabelSelector::parse(&text) {
                let printed = parsed.to_string();
                assert_eq!(
                    LabelSelector::parse(&printed).as_ref(),
                    Ok(&parsed),
                    "{text:?} printed as {printed:?}"
                );
            }
        }
    }
}
