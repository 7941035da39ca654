//! Sentences for the hibari voice and the cut of over-long ones (hibari-tts 0.2.1 `tts.py`:
//! `split_sentences`, `_ends_sentence` and the clause chunking in `phonemize`; Apache-2.0).

use std::collections::HashSet;

use super::g2p::Phonemes;

/// Sentences whose phonemes are longer than this are cut at clause punctuation.
pub const MAX_PHONEMES: usize = 400;

/// One sentence of a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sentence<'a> {
    pub text: &'a str,
    /// Byte offset of `text` in the whole text.
    pub start: usize,
}

/// Python's `str.strip()` as a byte range of `s`.
fn strip_range(s: &str) -> (usize, usize) {
    let start = s.len() - s.trim_start().len();
    (start, s.trim_end().len().max(start))
}

/// False for a period after a title or an initial ("Dr. Smith", "J. K. Rowling") or before a
/// lowercase word. `end` is the byte offset just after the sentence's last character.
fn ends_sentence(para: &str, end: usize, next: char, titles: &HashSet<String>) -> bool {
    if next.is_lowercase() {
        return false;
    }
    if !para[..end].ends_with('.') {
        return true;
    }
    let word_start = para[..end].rfind(' ').map_or(0, |i| i + 1);
    let word = para[word_start..end - 1].trim_start_matches(['(', '"', '“', '\'', '‘']);
    let initial = word.chars().count() == 1 && word.chars().all(char::is_uppercase);
    !(titles.contains(word) || initial)
}

/// Sentences (paragraph breaks and end punctuation), each a string the model sees at once.
/// `titles`: [`super::g2p::G2p::titles`]. Closing quotes and brackets right after a sentence's
/// end are dropped with the space that follows, as hibari does.
pub fn split_sentences<'a>(text: &'a str, titles: &HashSet<String>) -> Vec<Sentence<'a>> {
    let mut out = Vec::new();
    let (start, end) = strip_range(text);
    let body = &text[start..end];
    // Paragraphs: split at "\n\s*\n" or "\n".
    let mut paragraphs = Vec::new();
    let mut cut = 0;
    let mut i = 0;
    let bytes = body.as_bytes();
    while i < body.len() {
        if bytes[i] == b'\n' {
            let rest = &body[i + 1..];
            let ws = rest.len() - rest.trim_start().len();
            let next_newline = rest[..ws].rfind('\n');
            let sep_end = match next_newline {
                Some(k) => i + 1 + k + 1,
                None => i + 1,
            };
            paragraphs.push((cut, i));
            cut = sep_end;
            i = sep_end;
        } else {
            i += 1;
        }
    }
    paragraphs.push((cut, body.len()));
    for (p_start, p_end) in paragraphs {
        let raw = &body[p_start..p_end];
        let (s, e) = strip_range(raw);
        let para = &raw[s..e];
        let base = start + p_start + s;
        let mut cut = 0;
        for (m_start, m_end) in sentence_ends(para) {
            let next = para[m_end..].chars().next().unwrap_or(' ');
            if ends_sentence(para, m_start, next, titles) {
                out.push(Sentence {
                    text: &para[cut..m_start],
                    start: base + cut,
                });
                cut = m_end;
            }
        }
        out.push(Sentence {
            text: &para[cut..],
            start: base + cut,
        });
    }
    out.retain(|s| !s.text.trim().is_empty());
    out
}

/// `(?<=[.!?…])["”’)\]]*\s+(?=\S)`: byte ranges of the gaps after sentence-ending punctuation.
fn sentence_ends(para: &str) -> Vec<(usize, usize)> {
    let chars: Vec<(usize, char)> = para.char_indices().collect();
    let mut out = Vec::new();
    let mut k = 0;
    while k < chars.len() {
        if k > 0 && matches!(chars[k - 1].1, '.' | '!' | '?' | '…') {
            let mut j = k;
            while j < chars.len() && matches!(chars[j].1, '"' | '”' | '’' | ')' | ']') {
                j += 1;
            }
            let ws_start = j;
            while j < chars.len() && chars[j].1.is_whitespace() {
                j += 1;
            }
            if j > ws_start && j < chars.len() {
                out.push((chars[k].0, chars[j].0));
                k = j;
                continue;
            }
        }
        k += 1;
    }
    out
}

/// A sentence's phonemes in pieces of at most [`MAX_PHONEMES`] characters, cut after clause
/// punctuation (`,;:—`) and joined back greedily, sources kept; empty phonemes give none.
/// A single clause longer than the limit stays whole, as in hibari.
pub fn chunk(phonemes: Phonemes) -> Vec<Phonemes> {
    let chars: Vec<char> = phonemes.text.chars().collect();
    if chars.is_empty() {
        return Vec::new();
    }
    if chars.len() <= MAX_PHONEMES {
        return vec![phonemes];
    }
    // Clauses: split at whitespace runs that follow clause punctuation.
    let mut parts: Vec<(usize, usize)> = Vec::new();
    let mut cut = 0;
    let mut k = 1;
    while k < chars.len() {
        if chars[k].is_whitespace() && matches!(chars[k - 1], ',' | ';' | ':' | '—') {
            let mut j = k;
            while j < chars.len() && chars[j].is_whitespace() {
                j += 1;
            }
            parts.push((cut, k));
            cut = j;
            k = j;
        } else {
            k += 1;
        }
    }
    parts.push((cut, chars.len()));
    let mut chunks = Vec::new();
    let mut cur = Phonemes::default();
    let mut cur_len = 0;
    for (a, b) in parts {
        let len = b - a;
        if cur_len > 0 && cur_len + len + 1 > MAX_PHONEMES {
            chunks.push(std::mem::take(&mut cur));
            cur_len = 0;
        } else if cur_len > 0 {
            cur.text.push(' ');
            cur.sources.push(None);
            cur_len += 1;
        }
        cur.text.extend(&chars[a..b]);
        cur.sources.extend_from_slice(&phonemes.sources[a..b]);
        cur_len += len;
    }
    if cur_len > 0 {
        chunks.push(cur);
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn titles() -> HashSet<String> {
        ["Dr", "Mr"].iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn sentences_keep_their_offsets() {
        let text = "  Dr. Who came. “Run!” she said.\n\nJ. K. wrote. e.g. this. Then “Go.” Now";
        let got: Vec<(&str, usize)> = split_sentences(text, &titles())
            .iter()
            .map(|s| (s.text, s.start))
            .collect();
        assert_eq!(
            got,
            [
                ("Dr. Who came.", 2),
                ("“Run!” she said.", 16),
                ("J. K. wrote. e.g. this.", 38),
                ("Then “Go.", 62),
                ("Now", 77)
            ]
        );
    }

    #[test]
    fn long_phonemes_are_cut_after_clauses_with_sources() {
        let clause = "a".repeat(150);
        let text = format!("{clause}, {clause}; {clause}");
        let sources: Vec<Option<usize>> = text
            .chars()
            .enumerate()
            .map(|(i, c)| (c != ' ').then_some(i))
            .collect();
        let chunks = chunk(Phonemes { text, sources });
        let lens: Vec<usize> = chunks.iter().map(|c| c.text.chars().count()).collect();
        assert_eq!(lens, [303, 150]);
        assert_eq!(chunks[0].sources[150], Some(150));
        assert_eq!(chunks[0].sources[151], None);
        assert_eq!(chunks[0].sources[152], Some(152));
        assert_eq!(chunks[1].sources[0], Some(304));
        assert!(chunk(Phonemes::default()).is_empty());
    }
}
