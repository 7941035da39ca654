//! The hibari model's phoneme alphabet (`vocab.json`: one character → one id) and the model
//! input built from a phoneme string, as hibari-tts's `Hibari.ids` builds it.

use std::collections::HashMap;
use std::path::Path;

use crate::error::TtsError;

/// The id that starts and ends every input (and is never a phoneme's).
pub const PAD_ID: i64 = 0;
/// The id of the space between words; word boundaries are found by it.
pub const SPACE_ID: i64 = 16;

/// The vocabulary's file in the hibari folder.
pub const VOCAB_FILE: &str = "vocab.json";

/// `vocab.json`: phoneme character → model input id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vocab {
    ids: HashMap<char, i64>,
}

/// One model input, and where in the phoneme string each id came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ids {
    /// `[0, id of each known phoneme character…, 0]`.
    pub ids: Vec<i64>,
    /// For `ids[i + 1]` (every id but the two pads): the index, counted in characters, of
    /// the phoneme character it stands for. Characters missing from the vocabulary have no
    /// id and are skipped, as the reference skips them.
    pub chars: Vec<usize>,
}

impl Vocab {
    /// Reads `vocab.json`.
    pub fn load(path: &Path) -> Result<Self, TtsError> {
        let text = std::fs::read_to_string(path).map_err(|e| TtsError::io(path, e))?;
        Self::from_json(&text).map_err(|reason| TtsError::Voice {
            id: super::VOICE_ID.to_string(),
            path: path.to_path_buf(),
            reason,
        })
    }

    /// Parses the JSON object; every key must be one character.
    pub fn from_json(json: &str) -> Result<Self, String> {
        let raw: HashMap<String, i64> =
            serde_json::from_str(json).map_err(|e| format!("not a phoneme vocabulary: {e}"))?;
        let mut ids = HashMap::with_capacity(raw.len());
        for (key, id) in raw {
            let mut chars = key.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => ids.insert(c, id),
                _ => return Err(format!("vocabulary key {key:?} is not one character")),
            };
        }
        Ok(Self { ids })
    }

    /// The model input for a phoneme string.
    pub fn ids(&self, phonemes: &str) -> Ids {
        let mut ids = Vec::with_capacity(phonemes.len() + 2);
        let mut chars = Vec::with_capacity(phonemes.len());
        ids.push(PAD_ID);
        for (index, c) in phonemes.chars().enumerate() {
            if let Some(&id) = self.ids.get(&c) {
                ids.push(id);
                chars.push(index);
            }
        }
        ids.push(PAD_ID);
        Ids { ids, chars }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_padded_and_remember_their_characters() {
        let vocab =
            Vocab::from_json(r#"{"h": 50, "ə": 83, "l": 54, "ˈ": 156, "O": 31, " ": 16}"#).unwrap();
        // `x` is not in the vocabulary: no id, and the indices after it still count it.
        let ids = vocab.ids("həxlˈO hə");
        assert_eq!(ids.ids, [0, 50, 83, 54, 156, 31, 16, 50, 83, 0]);
        assert_eq!(ids.chars, [0, 1, 3, 4, 5, 6, 7, 8]);
        assert_eq!(vocab.ids("").ids, [0, 0]);
        assert!(vocab.ids("").chars.is_empty());
    }

    #[test]
    fn keys_must_be_single_characters() {
        assert!(Vocab::from_json(r#"{"ab": 1}"#).is_err());
        assert!(Vocab::from_json("[1]").is_err());
    }
}
