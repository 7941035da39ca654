//! Word tokenizer with spaCy's English rules (hibari `g2p/tokenize.py`; spaCy, MIT): special
//! cases (contractions, "Mr.", "10am"), then prefixes and suffixes peeled off each
//! whitespace-separated chunk, then infixes (hyphens, slashes) split what is left; finally
//! adjacent pieces that spell a special case are joined back ("Sept" + "." -> "Sept.").

use std::collections::HashMap;

use fancy_regex::Regex;

use super::{build, first_match};

const LO: &str = "a-zß-öø-ÿ";
const UP: &str = "A-ZÀ-ÖØ-Þ";
const Q: &str = "'\"”“`‘´’‚,„»«「」『』（）〔〕【】《》〈〉";
const PUNCT: &str = "…,:;!?¿¡()[]{}<>_#*&。？！，、；：～·";
const ICONS: &str = "™®©°§¶†‡•";
const CURRENCY: &str = r"\$|£|€|¥|฿|US\$|C\$|A\$|₽|₹|₩|₪|₺|₴|₦|₫|₱|₲|₵|₸|₼|₾|₿";
const UNITS: &str = "km|km²|km³|m|m²|m³|dm|dm²|dm³|cm|cm²|cm³|mm|mm²|mm³|ha|µm|nm|yd|in|ft|kg|g|mg|µg|t|lb|oz|m/s|km/h\
|kmh|mph|hPa|Pa|mbar|mb|MB|kb|KB|gb|GB|tb|TB|T|G|M|K|%";

/// Each character escaped, for use inside a `[...]` class or as alternatives.
fn escaped_chars(chars: &str) -> Vec<String> {
    chars
        .chars()
        .map(|c| regex::escape(&c.to_string()))
        .collect()
}

/// A class body holding exactly these characters.
pub(crate) fn class_of(chars: &str) -> String {
    escaped_chars(chars).concat()
}

#[derive(Debug)]
pub(crate) struct Tokenizer {
    special: HashMap<String, Vec<String>>,
    prefix: Regex,
    suffix: Regex,
    infix: Regex,
    url: Regex,
}

impl Tokenizer {
    /// `exceptions`: text -> the token texts it splits into.
    pub(crate) fn new(exceptions: HashMap<String, Vec<String>>) -> Result<Self, String> {
        let punct = escaped_chars(PUNCT);
        let quotes = escaped_chars(Q);
        let icons = format!("[{}]", class_of(ICONS));
        let (q, p) = (class_of(Q), class_of(PUNCT));
        let mut prefixes: Vec<String> = ["§", "%", "=", "—", "–", r"\+(?![0-9])", "…", "……"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        prefixes.extend(punct.iter().cloned());
        prefixes.extend([r"\.\.+".to_string(), "…".to_string()]);
        prefixes.extend(quotes.iter().cloned());
        prefixes.extend([CURRENCY.to_string(), icons.clone()]);
        let mut suffixes = vec!["…".to_string(), "……".to_string()];
        suffixes.extend(punct.iter().cloned());
        suffixes.extend([r"\.\.+".to_string(), "…".to_string()]);
        suffixes.extend(quotes.iter().cloned());
        suffixes.push(icons.clone());
        suffixes.extend(
            ["'s", "'S", "’s", "’S", "—", "–"]
                .iter()
                .map(|s| s.to_string()),
        );
        suffixes.extend([
            r"(?<=[0-9])\+".to_string(),
            r"(?<=°[FfCcKk])\.".to_string(),
            format!("(?<=[0-9])(?:{CURRENCY})"),
            format!("(?<=[0-9])(?:{UNITS})"),
            format!(r"(?<=[0-9{LO}%²\-\+{p}{q}])\."),
            format!(r"(?<=[{UP}][{UP}])\."),
        ]);
        let infixes = [
            r"\.\.+".to_string(),
            "…".to_string(),
            icons,
            r"(?<=[0-9])[+\-\*^](?=[0-9-])".to_string(),
            format!(r"(?<=[{LO}{q}])\.(?=[{UP}{q}])"),
            r"(?<=[^\W\d_]),(?=[^\W\d_])".to_string(),
            r"(?<=[^\W_])(?:-|–|—|--|---|——|~)(?=[^\W\d_])".to_string(),
            r"(?<=[^\W_])[:<>=/](?=[^\W\d_])".to_string(),
        ];
        let join = |parts: Vec<String>| parts.join("|");
        Ok(Self {
            special: exceptions,
            prefix: build(&join(
                prefixes.iter().map(|p| format!("^(?:{p})")).collect(),
            ))?,
            suffix: build(&join(
                suffixes.iter().map(|s| format!("(?:{s})$")).collect(),
            ))?,
            infix: build(&join(infixes.iter().map(|i| format!("(?:{i})")).collect()))?,
            url: build(
                r"(?i)^(?:(?:https?|ftp)://|www\.)\S+$|^[\w.+-]+@[\w-]+(?:\.[\w-]+)+$|^(?:[\w-]+\.)+(?:com|org|net|edu|gov|io|co|uk|de|fr|info|biz|us|ca|au|tv|me|ly|ai)(?:/\S*)?$",
            )?,
        })
    }

    /// `(token text, whitespace, byte offset in text)`; whitespace is `" "` when the token was
    /// followed by any.
    pub(crate) fn tokenize(&self, text: &str) -> Vec<(String, &'static str, usize)> {
        let mut out = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find(|c: char| !c.is_whitespace()) {
            let chunk_at = text.len() - rest.len() + start;
            let chunk_len = rest[start..]
                .find(char::is_whitespace)
                .unwrap_or(rest.len() - start);
            let chunk = &text[chunk_at..chunk_at + chunk_len];
            let ws = if chunk_at + chunk_len < text.len() {
                " "
            } else {
                ""
            };
            let pieces = self.split(chunk);
            // Pieces spell the chunk (spaCy requires it of its special cases); a table that
            // broke that rule would leave later pieces at the chunk's start.
            let mut at = 0;
            let n = pieces.len();
            for (i, piece) in pieces.into_iter().enumerate() {
                let offset = if chunk
                    .get(at..)
                    .is_some_and(|rest| rest.starts_with(piece.as_str()))
                {
                    at
                } else {
                    0
                };
                at = offset + piece.len();
                out.push((piece, if i + 1 == n { ws } else { "" }, chunk_at + offset));
            }
            rest = &text[chunk_at + chunk_len..];
        }
        out
    }

    fn split(&self, chunk: &str) -> Vec<String> {
        let special = &self.special;
        if let Some(toks) = special.get(chunk) {
            return toks.clone();
        }
        let mut s = chunk;
        let (mut pre, mut suf): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
        let mut last = usize::MAX;
        while !s.is_empty() && s.len() != last && !special.contains_key(s) {
            last = s.len();
            let pre_len = first_match(&self.prefix, s).map_or(0, |(_, end)| end);
            if pre_len > 0 {
                let minus_pre = &s[pre_len..];
                if !minus_pre.is_empty() && special.contains_key(minus_pre) {
                    pre.push(s[..pre_len].to_string());
                    s = minus_pre;
                    break;
                }
            }
            let suf_len = first_match(&self.suffix, &s[pre_len..]).map_or(0, |(a, b)| b - a);
            if suf_len > 0 {
                let minus_suf = &s[..s.len() - suf_len];
                if !minus_suf.is_empty() && special.contains_key(minus_suf) {
                    suf.push(s[s.len() - suf_len..].to_string());
                    s = minus_suf;
                    break;
                }
            }
            if pre_len > 0 && suf_len > 0 && pre_len + suf_len <= s.len() {
                pre.push(s[..pre_len].to_string());
                suf.push(s[s.len() - suf_len..].to_string());
                s = &s[pre_len..s.len() - suf_len];
            } else if pre_len > 0 {
                pre.push(s[..pre_len].to_string());
                s = &s[pre_len..];
            } else if suf_len > 0 {
                suf.push(s[s.len() - suf_len..].to_string());
                s = &s[..s.len() - suf_len];
            }
        }
        let mut toks = pre;
        if !s.is_empty() {
            if let Some(special) = special.get(s) {
                toks.extend(special.iter().cloned());
            } else if first_match(&self.url, s).is_some() {
                toks.push(s.to_string());
            } else {
                let mut start = 0;
                for m in self.infix.find_iter(s).filter_map(Result::ok) {
                    if m.start() == 0 || m.start() == m.end() {
                        continue;
                    }
                    if m.start() > start {
                        toks.push(s[start..m.start()].to_string());
                    }
                    toks.push(m.as_str().to_string());
                    start = m.end();
                }
                if start < s.len() {
                    toks.push(s[start..].to_string());
                }
            }
        }
        toks.extend(suf.into_iter().rev());
        if toks.len() > 1 {
            self.rejoin(toks)
        } else {
            toks
        }
    }

    /// spaCy's special-case pass over the split pieces: "Sept" "." -> "Sept.", ")" ":" -> "):".
    fn rejoin(&self, toks: Vec<String>) -> Vec<String> {
        let mut out = Vec::new();
        let mut i = 0;
        'pieces: while i < toks.len() {
            for k in [3, 2] {
                if i + k <= toks.len() {
                    if let Some(special) = self.special.get(&toks[i..i + k].concat()) {
                        out.extend(special.iter().cloned());
                        i += k;
                        continue 'pieces;
                    }
                }
            }
            out.push(toks[i].clone());
            i += 1;
        }
        out
    }
}
