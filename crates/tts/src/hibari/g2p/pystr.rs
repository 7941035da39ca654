//! Python's `str` predicates and case mappings, which the ported rules lean on: they are
//! Unicode-aware, and their empty-string answers differ from a naive `all()`.

/// `c.isalpha()`.
pub(crate) fn is_alpha_char(c: char) -> bool {
    c.is_alphabetic()
}

/// `c.isdigit()`: decimal digits of any script plus the superscripts and circled digits
/// Python also counts; not fractions or Roman numeral letters (those are only `isnumeric`).
pub(crate) fn is_digit_char(c: char) -> bool {
    c.is_ascii_digit()
        || (!c.is_ascii()
            && c.is_numeric()
            && !matches!(c, '¼'..='¾' | '\u{2150}'..='\u{218F}' | '\u{3007}' | '\u{3021}'..='\u{3029}'))
}

/// `s.isalpha()`: non-empty and all letters.
pub(crate) fn is_alpha(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_alpha_char)
}

/// `s.isdigit()`: non-empty and all digits.
pub(crate) fn is_digit(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_digit_char)
}

fn is_cased(c: char) -> bool {
    c.is_lowercase() || c.is_uppercase()
}

/// `s.islower()`: some cased character, and no uppercase one.
pub(crate) fn is_lower(s: &str) -> bool {
    s.chars().any(is_cased) && !s.chars().any(char::is_uppercase)
}

/// `s.isupper()`: some cased character, and no lowercase one.
pub(crate) fn is_upper(s: &str) -> bool {
    s.chars().any(is_cased) && !s.chars().any(char::is_lowercase)
}

/// `s.capitalize()`: first character upper case, the rest lower case.
pub(crate) fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first
            .to_uppercase()
            .chain(chars.as_str().to_lowercase().chars())
            .collect(),
        None => String::new(),
    }
}

/// `s[1:]`: everything after the first character.
pub(crate) fn tail(s: &str) -> &str {
    let mut chars = s.chars();
    chars.next();
    chars.as_str()
}

/// `s[-3:]`: the last three characters (the tagger's suffix feature).
pub(crate) fn last3(s: &str) -> &str {
    match s.char_indices().rev().nth(2) {
        Some((i, _)) => &s[i..],
        None => s,
    }
}

/// `len(s)`: characters, not bytes.
pub(crate) fn len(s: &str) -> usize {
    s.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicates_match_python() {
        assert!(is_lower("abc1") && !is_lower("1") && !is_lower("") && !is_lower("aB"));
        assert!(is_upper("NASA") && !is_upper("") && !is_upper("Nasa"));
        assert!(is_alpha("Café") && !is_alpha("don't") && !is_alpha(""));
        assert!(is_digit("1987") && is_digit("²") && !is_digit("½") && !is_digit("1.5"));
        assert_eq!(capitalize("hELLO"), "Hello");
        assert_eq!(tail("Éa"), "a");
        assert_eq!(last3("reading"), "ing");
        assert_eq!(last3("ab"), "ab");
    }
}
