//! misaki's English lexicon logic (hibari `g2p/lexicon.py`, from misaki 0.9.4 en.py):
//! dictionary look-ups with part-of-speech entries, function-word rules, -s/-ed/-ing stems,
//! spelled-out capitals, and number reading. American English only.

use std::collections::HashMap;

use serde::Deserialize;
use unicode_normalization::UnicodeNormalization;

use super::numbers as n;
use super::pystr;
use super::token::Tok;
use super::Context;

pub(crate) const PRIMARY_STRESS: char = 'ˈ';
pub(crate) const SECONDARY_STRESS: char = 'ˌ';
pub(crate) const VOWELS: &str = "AIOQWYaiuæɑɒɔəɛɜɪʊʌᵻ";
pub(crate) const CONSONANTS: &str = "bdfhjklmnpstvwzðŋɡɹɾʃʒʤʧθ";
const US_TAUS: &str = "AIOWYiuæɑəɛɪɹʊʌ";
const DIPHTHONGS: &str = "AIOQWYʤʧ";
const ORDINALS: [&str; 4] = ["st", "nd", "rd", "th"];

/// Currency symbol -> (unit, hundredth).
pub(crate) fn currency_units(symbol: &str) -> Option<(&'static str, &'static str)> {
    match symbol {
        "$" => Some(("dollar", "cent")),
        "£" => Some(("pound", "pence")),
        "€" => Some(("euro", "cent")),
        _ => None,
    }
}

fn symbol_word(word: &str) -> Option<&'static str> {
    match word {
        "%" => Some("percent"),
        "&" => Some("and"),
        "+" => Some("plus"),
        "@" => Some("at"),
        _ => None,
    }
}

fn is_vowel(c: char) -> bool {
    VOWELS.contains(c)
}

fn is_stress(c: char) -> bool {
    c == PRIMARY_STRESS || c == SECONDARY_STRESS
}

/// Syllable weight of a reading (diphthongs count double).
pub(crate) fn stress_weight(ps: &str) -> usize {
    ps.chars()
        .map(|c| if DIPHTHONGS.contains(c) { 2 } else { 1 })
        .sum()
}

/// misaki's apply_stress: lowers, raises, strips or adds stress marks. `None` leaves `ps` be.
pub(crate) fn apply_stress(ps: &str, stress: Option<f64>) -> String {
    let Some(stress) = stress else {
        return ps.to_string();
    };
    let has_primary = ps.contains(PRIMARY_STRESS);
    let has_secondary = ps.contains(SECONDARY_STRESS);
    let unstressed = !has_primary && !has_secondary;
    // A mark put in front of the first vowel.
    let restress = |mark: char| -> String {
        if !ps.chars().any(is_vowel) {
            return ps.to_string();
        }
        let mut out = String::with_capacity(ps.len() + 2);
        let mut placed = false;
        for c in ps.chars() {
            if !placed && is_vowel(c) {
                out.push(mark);
                placed = true;
            }
            out.push(c);
        }
        out
    };
    if stress < -1.0 {
        ps.chars().filter(|&c| !is_stress(c)).collect()
    } else if stress == -1.0 || ((stress == 0.0 || stress == -0.5) && has_primary) {
        ps.chars()
            .filter(|&c| c != SECONDARY_STRESS)
            .map(|c| {
                if c == PRIMARY_STRESS {
                    SECONDARY_STRESS
                } else {
                    c
                }
            })
            .collect()
    } else if (stress == 0.0 || stress == 0.5 || stress == 1.0) && unstressed {
        restress(SECONDARY_STRESS)
    } else if stress >= 1.0 && !has_primary && has_secondary {
        ps.replace(SECONDARY_STRESS, &PRIMARY_STRESS.to_string())
    } else if stress > 1.0 && unstressed {
        restress(PRIMARY_STRESS)
    } else {
        ps.to_string()
    }
}

/// `^[0-9]+$`
pub(crate) fn is_ascii_number(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

fn parent_tag(tag: &str) -> &str {
    if tag.starts_with("VB") {
        "VERB"
    } else if tag.starts_with("NN") {
        "NOUN"
    } else if tag.starts_with("ADV") || tag.starts_with("RB") {
        "ADV"
    } else if tag.starts_with("ADJ") || tag.starts_with("JJ") {
        "ADJ"
    } else {
        tag
    }
}

/// A dictionary entry: one reading, or readings by part of speech (`DEFAULT` among them; a
/// `null` reading means "not this way").
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum Entry {
    Plain(String),
    Tagged(HashMap<String, Option<String>>),
}

impl Entry {
    fn tagged(&self, tag: &str) -> Option<&str> {
        match self {
            Entry::Plain(ps) => Some(ps),
            Entry::Tagged(map) => match map.get(tag) {
                Some(ps) => ps.as_deref(),
                None => map.get("DEFAULT").and_then(|ps| ps.as_deref()),
            },
        }
    }

    fn default(&self) -> Option<&str> {
        self.tagged("DEFAULT")
    }
}

/// A misaki dictionary, with grow_dictionary done at look-up time: a lowercase key also
/// answers to its Capitalized form and vice versa, unless that form has its own entry.
#[derive(Debug)]
pub(crate) struct Dict(pub(crate) HashMap<String, Entry>);

impl Dict {
    fn get(&self, w: &str) -> Option<&Entry> {
        if let Some(v) = self.0.get(w) {
            return Some(v);
        }
        if pystr::len(w) < 2 {
            return None;
        }
        let lower = w.to_lowercase();
        if w == lower {
            let c = pystr::capitalize(w);
            return if c != w { self.0.get(&c) } else { None };
        }
        if w == pystr::capitalize(&lower) {
            return self.0.get(&lower);
        }
        None
    }

    fn contains(&self, w: &str) -> bool {
        self.get(w).is_some()
    }
}

#[derive(Debug)]
pub(crate) struct Lexicon {
    golds: Dict,
    silvers: Dict,
}

impl Lexicon {
    pub(crate) fn new(gold: HashMap<String, Entry>, silver: HashMap<String, Entry>) -> Self {
        Self {
            golds: Dict(gold),
            silvers: Dict(silver),
        }
    }

    fn gold_default(&self, w: &str) -> Option<String> {
        self.golds
            .get(w)
            .and_then(Entry::default)
            .map(str::to_string)
    }

    /// Spelled out letter by letter ("FBI", "U.S."), the last letter stressed.
    fn get_nnp(&self, word: &str) -> Option<String> {
        let mut ps = String::new();
        for c in word.chars().filter(|&c| pystr::is_alpha_char(c)) {
            let upper: String = c.to_uppercase().collect();
            ps.push_str(self.golds.get(&upper)?.default()?);
        }
        let ps = apply_stress(&ps, Some(0.0));
        Some(match ps.rfind(SECONDARY_STRESS) {
            Some(i) => format!(
                "{}{PRIMARY_STRESS}{}",
                &ps[..i],
                &ps[i + SECONDARY_STRESS.len_utf8()..]
            ),
            None => ps,
        })
    }

    fn get_special_case(
        &self,
        word: &str,
        tag: &str,
        stress: Option<f64>,
        ctx: &Context,
    ) -> Option<String> {
        let stripped = word.trim_matches('.');
        if tag == "ADD" && (word == "." || word == "/") {
            let name = if word == "." { "dot" } else { "slash" };
            return self.lookup(name, None, Some(-0.5), Some(ctx));
        }
        if let Some(name) = symbol_word(word) {
            return self.lookup(name, None, None, Some(ctx));
        }
        if stripped.contains('.')
            && pystr::is_alpha(&word.replace('.', ""))
            && word.split('.').map(pystr::len).max().unwrap_or(0) < 3
        {
            return self.get_nnp(word);
        }
        match word {
            "a" | "A" => return Some(if tag == "DT" { "ɐ" } else { "ˈA" }.to_string()),
            "am" | "Am" | "AM" => {
                if tag.starts_with("NN") {
                    return self.get_nnp(word);
                } else if ctx.future_vowel.is_none()
                    || word != "am"
                    || stress.is_some_and(|s| s > 0.0)
                {
                    return self.gold_default("am");
                }
                return Some("ɐm".to_string());
            }
            "an" | "An" | "AN" => {
                if word == "AN" && tag.starts_with("NN") {
                    return self.get_nnp(word);
                }
                return Some("ɐn".to_string());
            }
            "I" if tag == "PRP" => return Some(format!("{SECONDARY_STRESS}I")),
            "by" | "By" | "BY" if parent_tag(tag) == "ADV" => return Some("bˈI".to_string()),
            _ => {}
        }
        if matches!(word, "to" | "To") || (word == "TO" && matches!(tag, "TO" | "IN")) {
            return match ctx.future_vowel {
                None => self.gold_default("to"),
                Some(false) => Some("tə".to_string()),
                Some(true) => Some("tʊ".to_string()),
            };
        }
        if matches!(word, "in" | "In") || (word == "IN" && tag != "NNP") {
            let mark = if ctx.future_vowel.is_none() || tag != "IN" {
                "ˈ"
            } else {
                ""
            };
            return Some(format!("{mark}ɪn"));
        }
        if matches!(word, "the" | "The") || (word == "THE" && tag == "DT") {
            return Some(
                if ctx.future_vowel == Some(true) {
                    "ði"
                } else {
                    "ðə"
                }
                .to_string(),
            );
        }
        if tag == "IN" && (word.eq_ignore_ascii_case("vs") || word.eq_ignore_ascii_case("vs.")) {
            return self.lookup("versus", None, None, Some(ctx));
        }
        if matches!(word, "used" | "Used" | "USED") {
            let used = self.golds.get("used")?;
            let form = if matches!(tag, "VBD" | "JJ") && ctx.future_to {
                "VBD"
            } else {
                "DEFAULT"
            };
            return used.tagged(form).map(str::to_string);
        }
        None
    }

    fn is_known(&self, word: &str) -> bool {
        if self.golds.contains(word) || symbol_word(word).is_some() || self.silvers.contains(word) {
            return true;
        }
        if !pystr::is_alpha(word)
            || !word
                .chars()
                .all(|c| c.is_ascii_alphabetic() || c == '\'' || c == '-')
        {
            return false;
        }
        if pystr::len(word) == 1 {
            return true;
        }
        if word == word.to_uppercase() && self.golds.contains(&word.to_lowercase()) {
            return true;
        }
        let tail = pystr::tail(word);
        tail == tail.to_uppercase()
    }

    /// A dictionary reading: gold first, then silver; all-caps words not in gold are looked
    /// up in lower case, and spelled out when tagged as proper nouns.
    fn lookup(
        &self,
        word: &str,
        tag: Option<&str>,
        stress: Option<f64>,
        ctx: Option<&Context>,
    ) -> Option<String> {
        let mut word = word.to_string();
        let mut is_nnp = None;
        if word == word.to_uppercase() && !self.golds.contains(&word) {
            word = word.to_lowercase();
            is_nnp = Some(tag == Some("NNP"));
        }
        let mut entry = self.golds.get(&word);
        if entry.is_none() && is_nnp != Some(true) {
            entry = self.silvers.get(&word);
        }
        let ps = entry.and_then(|entry| match entry {
            Entry::Plain(ps) => Some(ps.as_str()),
            Entry::Tagged(map) => {
                let tag =
                    if ctx.is_some_and(|c| c.future_vowel.is_none()) && map.contains_key("None") {
                        Some("None")
                    } else if tag.is_some_and(|t| map.contains_key(t)) {
                        tag
                    } else {
                        tag.map(parent_tag)
                    };
                match tag.and_then(|t| map.get(t)) {
                    Some(ps) => ps.as_deref(),
                    None => map.get("DEFAULT").and_then(|ps| ps.as_deref()),
                }
            }
        });
        if ps.is_none() || (is_nnp == Some(true) && ps.is_some_and(|p| !p.contains(PRIMARY_STRESS)))
        {
            if let Some(nnp) = self.get_nnp(&word) {
                return Some(nnp);
            }
        }
        ps.map(|ps| apply_stress(ps, stress))
    }

    fn s(&self, stem: Option<String>) -> Option<String> {
        let stem = stem.filter(|s| !s.is_empty())?;
        let last = stem.chars().last()?;
        Some(if "ptkfθ".contains(last) {
            format!("{stem}s")
        } else if "szʃʒʧʤ".contains(last) {
            format!("{stem}ᵻz")
        } else {
            format!("{stem}z")
        })
    }

    fn stem_s(
        &self,
        word: &str,
        tag: Option<&str>,
        stress: Option<f64>,
        ctx: Option<&Context>,
    ) -> Option<String> {
        let len = pystr::len(word);
        if len < 3 || !word.ends_with('s') {
            return None;
        }
        let cut = |k: usize| &word[..word.len() - k];
        let stem = if !word.ends_with("ss") && self.is_known(cut(1)) {
            cut(1).to_string()
        } else if (word.ends_with("'s")
            || (len > 4 && word.ends_with("es") && !word.ends_with("ies")))
            && self.is_known(cut(2))
        {
            cut(2).to_string()
        } else if len > 4 && word.ends_with("ies") && self.is_known(&format!("{}y", cut(3))) {
            format!("{}y", cut(3))
        } else {
            return None;
        };
        self.s(self.lookup(&stem, tag, stress, ctx))
    }

    fn ed(&self, stem: Option<String>) -> Option<String> {
        let stem = stem.filter(|s| !s.is_empty())?;
        let chars: Vec<char> = stem.chars().collect();
        let last = chars[chars.len() - 1];
        Some(if "pkfθʃsʧ".contains(last) {
            format!("{stem}t")
        } else if last == 'd' {
            format!("{stem}ᵻd")
        } else if last != 't' {
            format!("{stem}d")
        } else if chars.len() < 2 {
            format!("{stem}ɪd")
        } else if US_TAUS.contains(chars[chars.len() - 2]) {
            format!("{}ɾᵻd", &stem[..stem.len() - 1])
        } else {
            format!("{stem}ᵻd")
        })
    }

    fn stem_ed(
        &self,
        word: &str,
        tag: Option<&str>,
        stress: Option<f64>,
        ctx: Option<&Context>,
    ) -> Option<String> {
        let len = pystr::len(word);
        if len < 4 || !word.ends_with('d') {
            return None;
        }
        let cut = |k: usize| &word[..word.len() - k];
        let stem = if !word.ends_with("dd") && self.is_known(cut(1)) {
            cut(1)
        } else if len > 4 && word.ends_with("ed") && !word.ends_with("eed") && self.is_known(cut(2))
        {
            cut(2)
        } else {
            return None;
        };
        self.ed(self.lookup(stem, tag, stress, ctx))
    }

    fn ing(&self, stem: Option<String>) -> Option<String> {
        let stem = stem.filter(|s| !s.is_empty())?;
        let chars: Vec<char> = stem.chars().collect();
        let n = chars.len();
        Some(
            if n > 1 && chars[n - 1] == 't' && US_TAUS.contains(chars[n - 2]) {
                format!("{}ɾɪŋ", &stem[..stem.len() - 1])
            } else {
                format!("{stem}ɪŋ")
            },
        )
    }

    fn stem_ing(
        &self,
        word: &str,
        tag: Option<&str>,
        stress: Option<f64>,
        ctx: Option<&Context>,
    ) -> Option<String> {
        let len = pystr::len(word);
        if len < 5 || !word.ends_with("ing") {
            return None;
        }
        let base = &word[..word.len() - 3];
        // ([bcdgklmnprstvxz])\1ing$ | cking$
        let doubled = {
            let b: Vec<char> = base.chars().collect();
            (b.len() >= 2
                && b[b.len() - 1] == b[b.len() - 2]
                && "bcdgklmnprstvxz".contains(b[b.len() - 1]))
                || base.ends_with("ck")
        };
        let stem = if len > 5 && self.is_known(base) {
            base.to_string()
        } else if self.is_known(&format!("{base}e")) {
            format!("{base}e")
        } else if len > 5 && doubled && self.is_known(&word[..word.len() - 4]) {
            word[..word.len() - 4].to_string()
        } else {
            return None;
        };
        self.ing(self.lookup(&stem, tag, stress, ctx))
    }

    fn get_word(
        &self,
        word: &str,
        tag: &str,
        stress: Option<f64>,
        ctx: &Context,
    ) -> Option<String> {
        if let Some(ps) = self.get_special_case(word, tag, stress, ctx) {
            return Some(ps);
        }
        let wl = word.to_lowercase();
        let mut word = word.to_string();
        let tail = pystr::tail(&word);
        if pystr::len(&word) > 1
            && pystr::is_alpha(&word.replace('\'', ""))
            && word != wl
            && (tag != "NNP" || pystr::len(&word) > 7)
            && !self.golds.contains(&word)
            && !self.silvers.contains(&word)
            && (word == word.to_uppercase() || tail == tail.to_lowercase())
            && (self.golds.contains(&wl)
                || self.silvers.contains(&wl)
                || self
                    .stem_s(&wl, Some(tag), stress, Some(ctx))
                    .is_some_and(|p| !p.is_empty())
                || self
                    .stem_ed(&wl, Some(tag), stress, Some(ctx))
                    .is_some_and(|p| !p.is_empty())
                || self
                    .stem_ing(&wl, Some(tag), stress, Some(ctx))
                    .is_some_and(|p| !p.is_empty()))
        {
            word = wl;
        }
        let (tag, ctx) = (Some(tag), Some(ctx));
        if self.is_known(&word) {
            return self.lookup(&word, tag, stress, ctx);
        }
        if let Some(stem) = word.strip_suffix("s'") {
            let possessive = format!("{stem}'s");
            if self.is_known(&possessive) {
                return self.lookup(&possessive, tag, stress, ctx);
            }
        }
        if let Some(stem) = word.strip_suffix('\'') {
            if self.is_known(stem) {
                return self.lookup(stem, tag, stress, ctx);
            }
        }
        self.stem_s(&word, tag, stress, ctx)
            .or_else(|| self.stem_ed(&word, tag, stress, ctx))
            .or_else(|| self.stem_ing(&word, tag, Some(stress.unwrap_or(0.5)), ctx))
    }

    fn is_currency(word: &str) -> bool {
        let dots = word.matches('.').count();
        if dots == 0 {
            return true;
        }
        // misaki also accepts all-zero cents, but compares characters with the number 0.
        dots == 1
            && word
                .split('.')
                .nth(1)
                .is_some_and(|cents| pystr::len(cents) < 3)
    }

    /// A number's reading: ordinals, years, digit strings, decimals, currency amounts, with a
    /// plural/past/-ing suffix. `is_head` false means a piece of a larger token ("COVID-19").
    pub(crate) fn get_number(
        &self,
        word: &str,
        currency: Option<&str>,
        is_head: bool,
    ) -> Option<String> {
        let suffix_len = word
            .bytes()
            .rev()
            .take_while(|b| b.is_ascii_lowercase() || *b == b'\'')
            .count();
        let suffix = (suffix_len > 0).then(|| &word[word.len() - suffix_len..]);
        let mut word = &word[..word.len() - suffix_len];
        let mut result: Vec<Option<String>> = Vec::new();
        if let Some(rest) = word.strip_prefix('-') {
            result.push(self.lookup("minus", None, None, None));
            word = rest;
        }
        let is_ordinal = suffix.is_some_and(|s| ORDINALS.contains(&s));
        let has_currency = currency.and_then(currency_units).is_some();
        // extend_num: the words of `text` (already words when `escape`, else digits).
        let extend = |result: &mut Vec<Option<String>>, text: &str, escape: bool| {
            let words = if escape {
                text.to_string()
            } else {
                n::cardinal(n::parse_int(text))
            };
            // re.split("[^a-z]+"): separator runs give no empty words.
            for w in words
                .split(|c: char| !c.is_ascii_lowercase())
                .filter(|w| !w.is_empty())
            {
                if w != "and" {
                    let stress = if w == "point" { Some(-2.0) } else { None };
                    result.push(self.lookup(w, None, stress, None));
                }
            }
        };
        let digits = |result: &mut Vec<Option<String>>, num: &str| {
            for d in num.chars() {
                extend(result, &d.to_string(), false);
            }
        };
        if is_ascii_number(word) && is_ordinal {
            extend(&mut result, &n::ordinal(n::parse_int(word)), true);
        } else if result.is_empty()
            && pystr::len(word) == 4
            && !has_currency
            && is_ascii_number(word)
        {
            extend(&mut result, &n::year(n::parse_int(word)), true);
        } else if !is_head && !word.contains('.') {
            let num = word.replace(',', "");
            let chars: Vec<char> = num.chars().collect();
            if chars.is_empty() {
                return None;
            }
            if chars[0] == '0' || chars.len() > 3 {
                digits(&mut result, &num);
            } else if chars.len() == 3 && !num.ends_with("00") {
                extend(&mut result, &chars[0].to_string(), false);
                if chars[1] == '0' {
                    result.push(self.lookup("O", None, Some(-2.0), None));
                    extend(&mut result, &chars[2].to_string(), false);
                } else {
                    extend(&mut result, pystr::tail(&num), false);
                }
            } else {
                extend(&mut result, &num, false);
            }
        } else if word.matches('.').count() > 1 || !is_head {
            for num in word.replace(',', "").split('.') {
                let chars: Vec<char> = num.chars().collect();
                if chars.is_empty() {
                    continue;
                }
                if chars[0] == '0' || (chars.len() != 2 && chars[1..].iter().any(|&c| c != '0')) {
                    digits(&mut result, num);
                } else {
                    extend(&mut result, num, false);
                }
            }
        } else if let Some(units) = currency
            .and_then(currency_units)
            .filter(|_| Self::is_currency(word))
        {
            let plain = word.replace(',', "");
            let mut pairs: Vec<(i128, &str)> = plain
                .split('.')
                .zip([units.0, units.1])
                .map(|(num, unit)| (n::parse_int(num), unit))
                .collect();
            if pairs.len() > 1 {
                if pairs[1].0 == 0 {
                    pairs.truncate(1);
                } else if pairs[0].0 == 0 {
                    pairs.remove(0);
                }
            }
            for (i, (num, unit)) in pairs.into_iter().enumerate() {
                if i > 0 {
                    result.push(self.lookup("and", None, None, None));
                }
                extend(&mut result, &num.to_string(), false);
                result.push(if num.abs() != 1 && unit != "pence" {
                    self.stem_s(&format!("{unit}s"), None, None, None)
                } else {
                    self.lookup(unit, None, None, None)
                });
            }
        } else {
            let words = if is_ascii_number(word) {
                n::cardinal(n::parse_int(word))
            } else if !word.contains('.') {
                let num = n::parse_int(&word.replace(',', ""));
                if is_ordinal {
                    n::ordinal(num)
                } else {
                    n::cardinal(num)
                }
            } else {
                let plain = word.replace(',', "");
                match plain.strip_prefix('.') {
                    Some(fraction) => {
                        let digits: Vec<String> = fraction
                            .chars()
                            .map(|d| n::cardinal(n::parse_int(&d.to_string())))
                            .collect();
                        format!("point {}", digits.join(" "))
                    }
                    None => n::decimal(&plain),
                }
            };
            extend(&mut result, &words, true);
        }
        if result.is_empty() {
            return None;
        }
        let joined: Vec<String> = result.into_iter().map(Option::unwrap_or_default).collect();
        let joined = joined.join(" ");
        match suffix {
            Some("s" | "'s") => self.s(Some(joined)),
            Some("ed" | "'d") => self.ed(Some(joined)),
            Some("ing") => self.ing(Some(joined)),
            _ => Some(joined),
        }
    }

    fn append_currency(&self, ps: String, currency: Option<&str>) -> String {
        let Some((unit, _)) = currency.and_then(currency_units) else {
            return ps;
        };
        match self.stem_s(&format!("{unit}s"), None, None, None) {
            Some(units) => format!("{ps} {units}"),
            None => ps,
        }
    }

    fn is_number(word: &str, is_head: bool) -> bool {
        if !word.bytes().any(|b| b.is_ascii_digit()) {
            return false;
        }
        let mut word = word;
        for s in ["ing", "'d", "ed", "'s", "st", "nd", "rd", "th", "s"] {
            if let Some(stem) = word.strip_suffix(s) {
                word = stem;
                break;
            }
        }
        word.chars().enumerate().all(|(i, c)| {
            c.is_ascii_digit() || c == ',' || c == '.' || (is_head && i == 0 && c == '-')
        })
    }

    /// The token's reading, or `None` when the lexicon cannot read it (then the OOV net does).
    pub(crate) fn read(&self, tk: &Tok, ctx: &Context) -> Option<String> {
        let word = tk
            .alias
            .as_deref()
            .unwrap_or(&tk.text)
            .replace(['‘', '’'], "'");
        let word: String = word.nfkc().collect();
        let stress = if word == word.to_lowercase() {
            None
        } else if word == word.to_uppercase() {
            Some(2.0)
        } else {
            Some(0.5)
        };
        if let Some(ps) = self.get_word(&word, &tk.tag, stress, ctx) {
            return Some(self.append_currency(ps, tk.currency.as_deref()));
        }
        if Self::is_number(&word, tk.is_head) {
            return self.get_number(&word, tk.currency.as_deref(), tk.is_head);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stress_rules() {
        assert_eq!(apply_stress("ˈæbˌɑ", Some(-1.0)), "ˌæbɑ");
        assert_eq!(apply_stress("ˈæbˌɑ", Some(-2.0)), "æbɑ");
        assert_eq!(apply_stress("kæt", Some(0.5)), "kˌæt");
        assert_eq!(apply_stress("kæt", Some(2.0)), "kˈæt");
        assert_eq!(apply_stress("kˌæt", Some(2.0)), "kˈæt");
        assert_eq!(apply_stress("st", Some(2.0)), "st");
        assert_eq!(apply_stress("kæt", None), "kæt");
        assert_eq!(stress_weight("ʤAk"), 5);
    }

    #[test]
    fn numbers_are_recognised_with_their_suffixes() {
        assert!(Lexicon::is_number("1990s", true));
        assert!(Lexicon::is_number("-5", true));
        assert!(!Lexicon::is_number("-5", false));
        assert!(Lexicon::is_number("3rd", true));
        assert!(!Lexicon::is_number("COVID", true));
        assert!(Lexicon::is_currency("9.99") && !Lexicon::is_currency("9.999"));
    }
}
