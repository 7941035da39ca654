//! Text normalisation before tokenizing (hibari `g2p/normalize.py`): readings the lexicon
//! rules cannot produce on their own (times, dates, units, abbreviations, other currencies,
//! symbols, letter/digit mixes). Plain numbers are left to the lexicon, as in misaki.
//!
//! Every substitution carries an offset map along: each byte of the output remembers the
//! byte offset in the original sentence it came from, so the phonemes of "3:30" can be traced
//! back to it. A rewritten span keeps the origins of the characters it shares with the match
//! at either end ("March 3rd, 2024" -> "March third, 2024" keeps "March " and ", 2024"); the
//! rest takes the origin of the first changed character of the match.

use std::collections::HashMap;

use fancy_regex::{Captures, Regex};
use serde::Deserialize;

use super::assets::Ordered;
use super::build;
use super::numbers as n;

/// `normalize.json` as stored.
#[derive(Debug, Deserialize)]
pub(crate) struct Tables {
    months: Ordered<String>,
    titles: Ordered<String>,
    abbreviations: Ordered<String>,
    units: Ordered<[String; 2]>,
    symbols: Ordered<String>,
    currency: Ordered<[String; 2]>,
    roman_cardinal: Vec<String>,
    roman_ordinal: Vec<String>,
}

impl Tables {
    /// The titles ("Dr", "St") after which a period does not end a sentence.
    pub(crate) fn title_names(&self) -> impl Iterator<Item = &str> {
        self.titles.0.iter().map(|(k, _)| k.as_str())
    }
}

/// Text with, for each of its bytes, the byte offset in the original it came from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Mapped {
    pub text: String,
    pub origins: Vec<usize>,
}

impl Mapped {
    pub(crate) fn new(text: &str) -> Self {
        let mut origins = Vec::with_capacity(text.len());
        for (i, c) in text.char_indices() {
            origins.extend(std::iter::repeat_n(i, c.len_utf8()));
        }
        Self {
            text: text.to_string(),
            origins,
        }
    }

    fn push(&mut self, text: &str, origins: &[usize]) {
        self.text.push_str(text);
        self.origins.extend_from_slice(origins);
    }

    fn push_with(&mut self, text: &str, origin: usize) {
        self.text.push_str(text);
        self.origins.extend(std::iter::repeat_n(origin, text.len()));
    }

    /// Python's `str.strip()`.
    fn strip(&self) -> Mapped {
        let start = self.text.len() - self.text.trim_start().len();
        let end = self.text.trim_end().len().max(start);
        Mapped {
            text: self.text[start..end].to_string(),
            origins: self.origins[start..end].to_vec(),
        }
    }

    /// Replaces every character in `from` by `to` (one character each).
    fn map_chars(&self, from: &[char], to: &[char]) -> Mapped {
        let mut out = Mapped {
            text: String::with_capacity(self.text.len()),
            origins: Vec::with_capacity(self.origins.len()),
        };
        for (i, c) in self.text.char_indices() {
            let c = from.iter().position(|&f| f == c).map_or(c, |k| to[k]);
            out.push_with(c.encode_utf8(&mut [0; 4]), self.origins[i]);
        }
        out
    }

    /// `re.sub(pattern, f, text)`, with the offset map carried through.
    fn sub(&self, re: &Regex, mut f: impl FnMut(&Captures, &str) -> String) -> Mapped {
        let text = self.text.as_str();
        let mut out = Mapped {
            text: String::with_capacity(text.len()),
            origins: Vec::with_capacity(text.len()),
        };
        let mut last = 0;
        for caps in re.captures_iter(text) {
            let caps = match caps {
                Ok(caps) => caps,
                Err(e) => {
                    log::warn!("hibari normaliser: pattern {} gave up: {e}", re.as_str());
                    break;
                }
            };
            let Some(m) = caps.get(0) else { continue };
            out.push(&text[last..m.start()], &self.origins[last..m.start()]);
            let replacement = f(&caps, text);
            self.push_replacement(&mut out, m.start(), m.as_str(), &replacement);
            last = m.end();
        }
        out.push(&text[last..], &self.origins[last..]);
        out
    }

    fn push_replacement(&self, out: &mut Mapped, at: usize, matched: &str, replacement: &str) {
        let prefix: usize = matched
            .chars()
            .zip(replacement.chars())
            .take_while(|(a, b)| a == b)
            .map(|(a, _)| a.len_utf8())
            .sum();
        let room = matched.len().min(replacement.len()) - prefix;
        let suffix: usize = matched[prefix..]
            .chars()
            .rev()
            .zip(replacement[prefix..].chars().rev())
            .take_while(|(a, b)| a == b)
            .map(|(a, _)| a.len_utf8())
            .scan(0, |total, len| {
                *total += len;
                (*total <= room).then_some(len)
            })
            .sum();
        let origin = |offset: usize| self.origins.get(at + offset).copied();
        out.push(&replacement[..prefix], &self.origins[at..at + prefix]);
        let middle_origin = if prefix < matched.len() {
            origin(prefix)
        } else if prefix > 0 {
            origin(prefix - 1)
        } else {
            origin(0).or_else(|| self.origins.last().copied())
        }
        .unwrap_or(0);
        out.push_with(
            &replacement[prefix..replacement.len() - suffix],
            middle_origin,
        );
        out.push(
            &replacement[replacement.len() - suffix..],
            &self.origins[at + matched.len() - suffix..at + matched.len()],
        );
    }
}

const FRACTIONS: [&str; 11] = [
    "", "", "half", "third", "quarter", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
];

fn alt<'a>(words: impl IntoIterator<Item = &'a str>) -> String {
    let mut words: Vec<&str> = words.into_iter().collect();
    words.sort_by_key(|w| std::cmp::Reverse(w.chars().count()));
    words
        .iter()
        .map(|w| regex::escape(w))
        .collect::<Vec<_>>()
        .join("|")
}

fn plural<'a>(n_text: &str, words: &'a [String; 2]) -> &'a str {
    if matches!(n_text.replace(',', "").as_str(), "1" | "1.0" | "-1") {
        &words[0]
    } else {
        &words[1]
    }
}

fn roman(s: &str) -> i128 {
    let value = |c: char| match c {
        'I' => 1,
        'V' => 5,
        'X' => 10,
        'L' => 50,
        'C' => 100,
        'D' => 500,
        'M' => 1000,
        _ => 0,
    };
    let chars: Vec<i128> = s.chars().map(value).collect();
    let mut total = 0;
    for (i, &v) in chars.iter().enumerate() {
        total += if chars.get(i + 1).is_some_and(|&next| next > v) {
            -v
        } else {
            v
        };
    }
    total
}

fn group<'t>(caps: &Captures<'t>, i: usize) -> Option<&'t str> {
    caps.get(i).map(|m| m.as_str())
}

fn whole(caps: &Captures) -> String {
    group(caps, 0).unwrap_or_default().to_string()
}

fn int(s: Option<&str>) -> i128 {
    n::parse_int(s.unwrap_or_default())
}

/// Compiled patterns and tables.
#[derive(Debug)]
pub(crate) struct Normalizer {
    months: HashMap<String, String>,
    month_names: Vec<String>,
    titles: HashMap<String, String>,
    abbreviations: HashMap<String, String>,
    units: HashMap<String, [String; 2]>,
    currency: HashMap<String, [String; 2]>,
    ws: Regex,
    time: Regex,
    date_us: Regex,
    date_iso: Regex,
    month_day: Regex,
    day_month: Regex,
    unit: Regex,
    deg: Regex,
    cents: Regex,
    currency_amount: Regex,
    big_money: Regex,
    title: Regex,
    abbrev: Regex,
    no: Regex,
    hash: Regex,
    roman_cardinal: Regex,
    roman_ordinal: Regex,
    phone: Regex,
    range: Regex,
    fraction: Regex,
    plus: Regex,
    space_punct: Regex,
    /// (pattern, replacement) per symbol, in the table's order.
    symbols: Vec<(Regex, String)>,
}

const NUM: &str = r"\d+(?:,\d{3})*(?:\.\d+)?";
const ROMAN_NUMERAL: &str =
    r"((?=[IVXLC])M{0,3}(?:CM|CD|D?C{0,3})(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3}))";

impl Normalizer {
    pub(crate) fn new(t: &Tables) -> Result<Self, String> {
        let keys =
            |o: &Ordered<String>| -> Vec<String> { o.0.iter().map(|(k, _)| k.clone()).collect() };
        let month_names: Vec<String> = t.months.0.iter().map(|(_, v)| v.clone()).collect();
        let mut month_words: Vec<String> = month_names.clone();
        month_words.extend(t.months.0.iter().map(|(k, _)| super::pystr::capitalize(k)));
        month_words.push("Sept".to_string());
        let months = alt(month_words.iter().map(String::as_str));
        let unit_keys: Vec<String> = t.units.0.iter().map(|(k, _)| k.clone()).collect();
        let title_keys = keys(&t.titles);
        let abbrev_keys = keys(&t.abbreviations);
        let symbols = t
            .symbols
            .0
            .iter()
            .map(|(sym, word)| {
                let esc = regex::escape(sym);
                let pattern = if "=<>~".contains(sym.as_str()) {
                    format!(r"(?<=\S) ?{esc} ?(?=\S)")
                } else {
                    esc
                };
                let replacement = if word.is_empty() {
                    " ".to_string()
                } else {
                    format!(" {word} ")
                };
                Ok((build(&pattern)?, replacement))
            })
            .collect::<Result<_, String>>()?;
        let roman_c = alt(t.roman_cardinal.iter().map(String::as_str));
        let roman_o = alt(t.roman_ordinal.iter().map(String::as_str));
        Ok(Self {
            months: t.months.0.iter().cloned().collect(),
            month_names,
            titles: t.titles.0.iter().cloned().collect(),
            abbreviations: t.abbreviations.0.iter().cloned().collect(),
            units: t.units.0.iter().cloned().collect(),
            currency: t.currency.0.iter().cloned().collect(),
            ws: build(r"\s+")?,
            time: build(
                r"\b(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s?([AaPp])\.?[Mm]\.?(?![A-Za-z]))?(?!\d)",
            )?,
            date_us: build(r"\b(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})\b")?,
            date_iso: build(r"\b(\d{4})-(\d{2})-(\d{2})\b")?,
            month_day: build(&format!(
                r"\b({months})\.? (\d{{1,2}})(?:st|nd|rd|th)?\b(?![\d:%])(,? \d{{4}}\b)?"
            ))?,
            day_month: build(&format!(r"\b(the )?(\d{{1,2}}) (?:of )?({months})\b\.?"))?,
            unit: build(&format!(
                r"(?<![\w.])(-?{NUM})\s?({})(?![\w])",
                alt(unit_keys.iter().map(String::as_str))
            ))?,
            deg: build(&format!(r"(?<![\w.])(-?{NUM})\s?°\s?([CF])?(?![\w])"))?,
            cents: build(&format!(r"(?<![\w.])({NUM})\s?¢"))?,
            currency_amount: build(&format!(
                r"(?<![\w])([¥₹₩]|Rs\.?|USD|EUR|GBP)\s?({NUM})(?:\s?(hundred|thousand|million|billion|trillion|[kKmMbB]\b))?"
            ))?,
            big_money: build(&format!(
                r"([$£€])({NUM})\s?(hundred|thousand|million|billion|trillion|[kKmMbB]\b)"
            ))?,
            title: build(&format!(
                r"\b({})\.? (?=[A-Z])",
                alt(title_keys.iter().map(String::as_str))
            ))?,
            abbrev: build(&format!(
                r"(?<![\w.])({})(?![\w])",
                alt(abbrev_keys.iter().map(String::as_str))
            ))?,
            no: build(r"\b(No|Nos)\. ?(?=\d)")?,
            hash: build(r"(?<![\w&])#(?=\d)")?,
            roman_cardinal: build(&format!(r"\b({roman_c}) {ROMAN_NUMERAL}\b(?![.'’]\w)"))?,
            roman_ordinal: build(&format!(r"\b({roman_o}) {ROMAN_NUMERAL}\b(?![.'’]\w)"))?,
            phone: build(r"(?<![\w.\-])(?:\d{3}-)?\d{3}-\d{4}(?![\w.\-])")?,
            range: build(r"(?<![\w.\-])(\d{1,4})\s?[-–]\s?(\d{1,4})(?![\w.\-%])")?,
            fraction: build(r"(?<![\w./])(\d{1,2})/(\d{1,2})(?![\w./])")?,
            plus: build(r"(?<![\w+])\+(?=\d)")?,
            space_punct: build(r" +([,.;:!?])")?,
            symbols,
        })
    }

    fn month(&self, name: &str) -> Option<&str> {
        let key: String = name.to_lowercase().chars().take(3).collect();
        self.months.get(&key).map(String::as_str)
    }

    fn date(&self, year: Option<&str>, month: i128, day: i128) -> Option<String> {
        if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
            return None;
        }
        let name = self.month_names.get((month - 1) as usize)?;
        let mut out = format!("{name} {}", n::ordinal(day));
        if let Some(year) = year {
            out.push_str(&format!(", {year}"));
        }
        Some(out)
    }

    fn time(caps: &Captures, text: &str) -> String {
        let (h, mi, sec, ap) = (
            int(group(caps, 1)),
            int(group(caps, 2)),
            group(caps, 3),
            group(caps, 4),
        );
        if h > 24 || mi > 59 || sec.is_some_and(|s| n::parse_int(s) > 59) {
            return whole(caps);
        }
        let mut words = n::cardinal(h);
        if mi == 0 {
            if ap.is_none() && sec.is_none() {
                words.push_str(" o'clock");
            }
        } else if mi < 10 {
            words.push_str(&format!(" oh {}", n::cardinal(mi)));
        } else {
            words.push_str(&format!(" {}", n::cardinal(mi)));
        }
        if let Some(sec) = sec {
            let s = n::parse_int(sec);
            words.push_str(&format!(
                " and {}{}",
                n::cardinal(s),
                if s == 1 { " second" } else { " seconds" }
            ));
        }
        if let Some(ap) = ap {
            // Dotted so the lexicon spells the letters (misaki get_NNP).
            let end = caps.get(0).map_or(text.len(), |m| m.end());
            let dot = if text[end..].starts_with('.') {
                ""
            } else {
                "."
            };
            words.push_str(&format!(" {}.M{dot}", ap.to_uppercase()));
        }
        words
    }

    fn fraction(&self, a: i128, b: i128) -> String {
        if 0 < a && a < b && b <= 10 {
            let unit = FRACTIONS[b as usize];
            if unit == "half" {
                return if a == 1 {
                    "one half".to_string()
                } else {
                    format!("{a} halves")
                };
            }
            return format!("{a} {unit}{}", if a == 1 { "" } else { "s" });
        }
        if (1..=12).contains(&a) && (1..=31).contains(&b) {
            if let Some(date) = self.date(None, a, b) {
                return date;
            }
        }
        format!("{a} slash {b}")
    }

    fn big(word: &str) -> String {
        match word.to_lowercase().as_str() {
            "k" => "thousand".to_string(),
            "m" => "million".to_string(),
            "b" => "billion".to_string(),
            _ => word.to_string(),
        }
    }

    /// hibari's `normalize(text)`, on a sentence with its offset map.
    pub(crate) fn normalize(&self, text: &str) -> Mapped {
        let mut t = Mapped::new(text)
            .sub(&self.ws, |_, _| " ".to_string())
            .strip();
        if t.text.is_empty() {
            return t;
        }
        t = t.map_chars(&['\u{a0}', '’', '‒', '―'], &[' ', '\'', '-', '—']);
        t = t.sub(&self.time, Self::time);
        t = t.sub(&self.date_iso, |c, _| {
            self.date(group(c, 1), int(group(c, 2)), int(group(c, 3)))
                .unwrap_or_else(|| whole(c))
        });
        t = t.sub(&self.date_us, |c, _| {
            let (a, b) = (int(group(c, 1)), int(group(c, 2)));
            let mut year = group(c, 3).unwrap_or_default().to_string();
            if year.chars().count() == 2 {
                year = format!(
                    "{}{year}",
                    if n::parse_int(&year) > 30 { "19" } else { "20" }
                );
            }
            let (mo, d) = if a <= 12 { (a, b) } else { (b, a) };
            self.date(Some(&year), mo, d).unwrap_or_else(|| whole(c))
        });
        t = t.sub(&self.big_money, |c, _| {
            let words = group(c, 1).and_then(|s| self.currency.get(s));
            match words {
                Some(words) => format!(
                    "{} {} {}",
                    group(c, 2).unwrap_or_default(),
                    Self::big(group(c, 3).unwrap_or_default()),
                    words[1]
                ),
                None => whole(c),
            }
        });
        t = t.sub(&self.cents, |c, _| match self.currency.get("¢") {
            Some(words) => {
                let num = group(c, 1).unwrap_or_default();
                format!("{num} {}", plural(num, words))
            }
            None => whole(c),
        });
        t = t.sub(&self.currency_amount, |c, _| {
            let sym = group(c, 1).unwrap_or_default().trim_end_matches('.');
            let Some(words) = self.currency.get(sym) else {
                return whole(c);
            };
            let num = group(c, 2).unwrap_or_default();
            match group(c, 3) {
                Some(big) => format!("{num} {} {}", Self::big(big), words[1]),
                None => format!("{num} {}", plural(num, words)),
            }
        });
        t = t.sub(&self.deg, |c, _| {
            let num = group(c, 1).unwrap_or_default();
            let degrees = ["degree".to_string(), "degrees".to_string()];
            let scale = match group(c, 2) {
                Some("C") => " Celsius",
                Some("F") => " Fahrenheit",
                _ => "",
            };
            format!("{num} {}{scale}", plural(num, &degrees))
        });
        t = t.sub(&self.unit, |c, _| {
            let num = group(c, 1).unwrap_or_default();
            match group(c, 2).and_then(|u| self.units.get(u)) {
                Some(words) => format!("{num} {}", plural(num, words)),
                None => whole(c),
            }
        });
        t = t.sub(&self.month_day, |c, _| {
            let day = int(group(c, 2));
            match self.month(group(c, 1).unwrap_or_default()) {
                Some(month) if (1..=31).contains(&day) => {
                    format!(
                        "{month} {}{}",
                        n::ordinal(day),
                        group(c, 3).unwrap_or_default()
                    )
                }
                _ => whole(c),
            }
        });
        t = t.sub(&self.day_month, |c, _| {
            let day = int(group(c, 2));
            match self.month(group(c, 3).unwrap_or_default()) {
                Some(month) if (1..=31).contains(&day) => {
                    format!("the {} of {month}", n::ordinal(day))
                }
                _ => whole(c),
            }
        });
        t = t.sub(&self.title, |c, _| {
            match group(c, 1).and_then(|k| self.titles.get(k)) {
                Some(title) => format!("{title} "),
                None => whole(c),
            }
        });
        t = t.sub(&self.abbrev, |c, text| {
            let key = group(c, 1).unwrap_or_default();
            let Some(word) = self.abbreviations.get(key) else {
                return whole(c);
            };
            let at_end = c.get(0).is_some_and(|m| m.end() == text.len());
            format!(
                "{word}{}",
                if at_end && key.ends_with('.') {
                    "."
                } else {
                    ""
                }
            )
        });
        t = t.sub(&self.no, |c, _| {
            if group(c, 1) == Some("No") {
                "Number "
            } else {
                "Numbers "
            }
            .to_string()
        });
        t = t.sub(&self.hash, |_, _| "number ".to_string());
        t = t.sub(&self.roman_cardinal, |c, _| {
            format!(
                "{} {}",
                group(c, 1).unwrap_or_default(),
                roman(group(c, 2).unwrap_or_default())
            )
        });
        t = t.sub(&self.roman_ordinal, |c, _| {
            format!(
                "{} the {}",
                group(c, 1).unwrap_or_default(),
                n::ordinal(roman(group(c, 2).unwrap_or_default()))
            )
        });
        t = t.sub(&self.phone, |c, _| {
            let spaced: Vec<String> = whole(c)
                .replace('-', ", ")
                .chars()
                .map(String::from)
                .collect();
            spaced.join(" ")
        });
        t = t.sub(&self.fraction, |c, _| {
            self.fraction(int(group(c, 1)), int(group(c, 2)))
        });
        t = t.sub(&self.range, |c, _| {
            format!(
                "{} to {}",
                group(c, 1).unwrap_or_default(),
                group(c, 2).unwrap_or_default()
            )
        });
        t = t.sub(&self.plus, |_, _| "plus ".to_string());
        for (pattern, replacement) in &self.symbols {
            t = t.sub(pattern, |_, _| replacement.clone());
        }
        t = t.sub(&self.ws, |_, _| " ".to_string());
        t = t.sub(&self.space_punct, |c, _| {
            group(c, 1).unwrap_or_default().to_string()
        });
        t.strip()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_follow_substitutions() {
        let re = build(r"(\d):(\d\d)").unwrap();
        let text = Mapped::new("at 7:30 ok");
        let out = text.sub(&re, |_, _| "seven thirty".to_string());
        assert_eq!(out.text, "at seven thirty ok");
        let origin_of = |s: &str| out.origins[out.text.find(s).unwrap()];
        assert_eq!(origin_of("at"), 0);
        assert_eq!(origin_of("seven"), 3);
        assert_eq!(origin_of("thirty"), 3);
        assert_eq!(origin_of("ok"), 8);
        assert_eq!(out.origins.len(), out.text.len());
    }

    #[test]
    fn shared_ends_keep_their_own_origins() {
        let re = build(r"March 3rd, 2024").unwrap();
        let out =
            Mapped::new("On March 3rd, 2024.").sub(&re, |_, _| "March third, 2024".to_string());
        assert_eq!(out.text, "On March third, 2024.");
        let origin_of = |s: &str| out.origins[out.text.find(s).unwrap()];
        assert_eq!(origin_of("March"), 3);
        assert_eq!(origin_of("third"), 9);
        assert_eq!(origin_of("2024"), 14);
        assert_eq!(origin_of("."), 18);
        let out = Mapped::new("a  .").sub(&build(" +([.])").unwrap(), |c, _| {
            group(c, 1).unwrap().to_string()
        });
        assert_eq!(
            (out.text.as_str(), out.origins.as_slice()),
            ("a.", &[0, 3][..])
        );
    }

    #[test]
    fn whitespace_and_strip_keep_offsets_of_multibyte_text() {
        let out = Mapped::new("  “Hi”\n\nthere ")
            .sub(&build(r"\s+").unwrap(), |_, _| " ".to_string())
            .strip();
        assert_eq!(out.text, "“Hi” there");
        assert_eq!(out.origins[out.text.find("there").unwrap()], 12);
        assert_eq!(out.origins[out.text.find('H').unwrap()], 5);
    }

    #[test]
    fn roman_numerals_and_fractions() {
        assert_eq!(roman("XIV"), 14);
        assert_eq!(roman("VIII"), 8);
        assert_eq!(roman("MCMXC"), 1990);
    }
}
