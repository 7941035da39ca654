//! From espeak-ng's IPA to the model's input ids, the way Piper does it.
//!
//! For one utterance: the ids of `^` (start), then of `_` (pad); then, for every character of
//! the phoneme string, its ids followed by the ids of `_`; then the ids of `$` (end).
//! Characters the voice's map lacks are dropped and reported. Clauses are joined as Piper's
//! own espeak-ng build joins them: each clause's phonemes, then its closing punctuation
//! (which Debian's 1.51 leaves out, so [`crate::text`] remembered it), then a space.

use std::collections::HashMap;
use std::ops::Range;

use unicode_normalization::UnicodeNormalization;

/// Padding between phonemes.
pub const PAD: char = '_';
/// Start of an utterance.
pub const BOS: char = '^';
/// End of an utterance.
pub const EOS: char = '$';

/// A voice's `phoneme_id_map`: one character → one or more ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhonemeIdMap {
    map: HashMap<char, Vec<i64>>,
}

/// The ids of one utterance, and what could not be mapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhonemeIds {
    pub ids: Vec<i64>,
    /// Characters missing from the map, in order of appearance, without repeats.
    pub missing: Vec<char>,
    /// How many mapped characters are sounds (not spaces or punctuation): zero means the
    /// utterance has nothing to say.
    pub spoken: usize,
    /// For each character of the phoneme string, the index in `ids` where its ids begin, and
    /// last the index of the end ids: character `i` (its ids and the pad after them) is
    /// `ids[starts[i]..starts[i + 1]]`; a dropped character's range is empty.
    pub starts: Vec<usize>,
}

impl PhonemeIdMap {
    /// Builds the map from the JSON form (string keys). Keys must be single characters; the
    /// pad, start and end symbols must be present.
    pub fn from_json(raw: &HashMap<String, Vec<i64>>) -> Result<Self, String> {
        let mut map = HashMap::with_capacity(raw.len());
        for (key, ids) in raw {
            let mut chars = key.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => {
                    map.insert(c, ids.clone());
                }
                _ => log::warn!("phoneme_id_map key {key:?} is not one character; ignored"),
            }
        }
        for symbol in [PAD, BOS, EOS] {
            if map.get(&symbol).is_none_or(Vec::is_empty) {
                return Err(format!("phoneme_id_map has no ids for {symbol:?}"));
            }
        }
        Ok(Self { map })
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The utterance's ids: `^ _ (phoneme _)* $`.
    pub fn ids(&self, phonemes: &str) -> PhonemeIds {
        let symbol = |c: char| self.map.get(&c).map(Vec::as_slice).unwrap_or_default();
        let pad = symbol(PAD);
        let mut ids = Vec::with_capacity(2 * phonemes.len() + 4);
        ids.extend_from_slice(symbol(BOS));
        ids.extend_from_slice(pad);
        let mut missing = Vec::new();
        let mut spoken = 0;
        let mut starts = Vec::with_capacity(phonemes.len() + 1);
        for c in phonemes.chars() {
            starts.push(ids.len());
            match self.map.get(&c) {
                Some(phoneme) => {
                    ids.extend_from_slice(phoneme);
                    ids.extend_from_slice(pad);
                    if is_sound(c) {
                        spoken += 1;
                    }
                }
                None if !missing.contains(&c) => missing.push(c),
                None => {}
            }
        }
        starts.push(ids.len());
        ids.extend_from_slice(symbol(EOS));
        PhonemeIds {
            ids,
            missing,
            spoken,
            starts,
        }
    }
}

/// Whether a phoneme character is a sound rather than a pause or a mark of punctuation.
pub fn is_sound(c: char) -> bool {
    !c.is_whitespace()
        && !matches!(
            c,
            ',' | '.' | '?' | '!' | ';' | ':' | '-' | '\'' | '"' | '(' | ')'
        )
}

/// One utterance's phonemes, and where each spoken word lies in them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Utterance {
    pub phonemes: String,
    pub words: Vec<PhonemeWord>,
}

/// A word as the phonemiser spoke it: which clause (index into the clauses given to
/// [`utterance`]) and which characters of the phoneme string (punctuation excluded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhonemeWord {
    pub clause: usize,
    pub chars: Range<usize>,
}

/// One utterance's phoneme string from its clauses' IPA and closing punctuation: language
/// switch flags such as `(fr)` removed, decomposed to NFD (as Piper does, so `ç` becomes `c`
/// plus a combining cedilla, both in the map), punctuation appended, clauses joined by a
/// space. Clauses with no phonemes are left out.
pub fn utterance<'a>(clauses: impl IntoIterator<Item = (&'a str, Option<char>)>) -> Utterance {
    let mut phonemes = String::new();
    let mut chars = 0;
    let mut words = Vec::new();
    for (clause, (ipa, punctuation)) in clauses.into_iter().enumerate() {
        let cleaned: String = strip_language_flags(ipa).nfd().collect();
        for word in cleaned.split_whitespace() {
            if !phonemes.is_empty() {
                phonemes.push(' ');
                chars += 1;
            }
            let length = word.chars().count();
            words.push(PhonemeWord {
                clause,
                chars: chars..chars + length,
            });
            phonemes.push_str(word);
            chars += length;
        }
        if !cleaned.trim().is_empty() {
            if let Some(p) = punctuation {
                phonemes.push(p);
                chars += 1;
            }
        }
    }
    Utterance { phonemes, words }
}

/// How many words and sound characters a clause's IPA holds.
pub fn shape(ipa: &str) -> (usize, usize) {
    let phonemes = utterance([(ipa, None)]).phonemes;
    let words = phonemes.split_whitespace().count();
    (words, phonemes.chars().filter(|&c| is_sound(c)).count())
}

/// espeak-ng marks words it reads in another language with `(en)` … `(fr)`: not phonemes.
fn strip_language_flags(ipa: &str) -> String {
    let mut out = String::with_capacity(ipa.len());
    let mut in_flag = false;
    for c in ipa.chars() {
        match c {
            '(' => in_flag = true,
            ')' => in_flag = false,
            c if !in_flag => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map() -> PhonemeIdMap {
        let raw: HashMap<String, Vec<i64>> = [
            ("_", vec![0]),
            ("^", vec![1]),
            ("$", vec![2]),
            (" ", vec![3]),
            (",", vec![8]),
            (".", vec![10]),
            ("?", vec![13]),
            ("a", vec![14]),
            ("c", vec![16]),
            ("h", vec![20]),
            ("ɪ", vec![74]),
            ("ˈ", vec![120]),
            ("\u{0327}", vec![140]),
            ("ab", vec![99]),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        PhonemeIdMap::from_json(&raw).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn ids_are_bos_pad_then_each_phoneme_padded_then_eos() {
        let ids = map().ids("hˈaɪ.");
        assert_eq!(ids.ids, [1, 0, 20, 0, 120, 0, 14, 0, 74, 0, 10, 0, 2]);
        assert_eq!(ids.starts, [2, 4, 6, 8, 10, 12]);
        assert_eq!(ids.missing, Vec::<char>::new());
        assert_eq!(ids.spoken, 4);
        assert_eq!(map().len(), 13, "the two-character key is ignored");
    }

    #[test]
    fn unknown_characters_are_dropped_and_reported_once() {
        let ids = map().ids("hxɪx");
        assert_eq!(ids.ids, [1, 0, 20, 0, 74, 0, 2]);
        assert_eq!(
            ids.starts,
            [2, 4, 4, 6, 6],
            "dropped characters take no ids"
        );
        assert_eq!(ids.missing, ['x']);
        let silent = map().ids(", .");
        assert_eq!(silent.spoken, 0);
        assert_eq!(silent.ids, [1, 0, 8, 0, 3, 0, 10, 0, 2]);
    }

    #[test]
    fn multi_id_phonemes_are_all_emitted() {
        let raw: HashMap<String, Vec<i64>> = [("_", vec![0]), ("^", vec![1]), ("$", vec![2])]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .chain([("a".to_owned(), vec![5, 6])])
            .collect();
        let map = PhonemeIdMap::from_json(&raw).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(map.ids("a").ids, [1, 0, 5, 6, 0, 2]);
    }

    #[test]
    fn maps_without_start_end_or_pad_are_refused() {
        let raw: HashMap<String, Vec<i64>> = [("_".to_owned(), vec![0]), ("^".to_owned(), vec![1])]
            .into_iter()
            .collect();
        assert_eq!(
            PhonemeIdMap::from_json(&raw),
            Err("phoneme_id_map has no ids for '$'".to_owned())
        );
    }

    #[test]
    fn clauses_get_their_punctuation_back() {
        let spoken = utterance([
            ("wˈʌn wˈɪntɚ", Some(',')),
            ("ɪn  nˈaɪntiːn\n", Some(',')),
            ("", Some(',')),
            ("ɐ stˈoːɹm", Some('.')),
        ]);
        assert_eq!(spoken.phonemes, "wˈʌn wˈɪntɚ, ɪn nˈaɪntiːn, ɐ stˈoːɹm.");
        let words: Vec<(usize, Range<usize>)> = spoken
            .words
            .iter()
            .map(|w| (w.clause, w.chars.clone()))
            .collect();
        assert_eq!(
            words,
            [
                (0, 0..4),
                (0, 5..11),
                (1, 13..15),
                (1, 16..25),
                (3, 27..28),
                (3, 29..36)
            ]
        );
        assert_eq!(utterance([("hˈaɪ", None)]).phonemes, "hˈaɪ");
        assert_eq!(shape("nˈaɪntiːnhˈʌndɹɪd ˈeɪɾi  sˈɛvən"), (3, 28));
        assert_eq!(shape(""), (0, 0));
    }

    #[test]
    fn language_flags_go_and_ipa_is_decomposed() {
        assert_eq!(
            utterance([("(fr)bɔ̃ʒˈuʁ(en) ɡˈaɪz", Some('!'))]).phonemes,
            "bɔ̃ʒˈuʁ ɡˈaɪz!"
        );
        assert_eq!(utterance([("\u{00E7}a", None)]).phonemes, "c\u{0327}a");
        assert_eq!(map().ids("\u{00E7}").missing, ['\u{00E7}']);
        assert_eq!(
            map().ids(&utterance([("\u{00E7}", None)]).phonemes).ids,
            [1, 0, 16, 0, 140, 0, 2]
        );
    }
}
