//! Out-of-vocabulary words (hibari `g2p/oov.py`): a small character transformer (`oov.onnx`)
//! trained on espeak-ng's readings, so unknown words sound the way the reference pipeline read
//! them. One ONNX call per word; its output is CTC-style (collapse repeats, drop blanks).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use ort::environment::Environment;
use ort::session::Session;
use ort::value::Tensor;
use serde::Deserialize;

use crate::error::TtsError;

/// `oov.json`: the input and output alphabets (id = index + 1; 0 is the blank) and the
/// longest input.
#[derive(Debug, Deserialize)]
pub(crate) struct OovMeta {
    #[serde(rename = "in")]
    input: Vec<String>,
    out: Vec<String>,
    maxlen: usize,
}

pub(crate) struct Oov {
    /// `Session::run` needs `&mut`: one word at a time.
    session: Mutex<Session>,
    ids: HashMap<String, i64>,
    phonemes: Vec<String>,
    maxlen: usize,
}

impl std::fmt::Debug for Oov {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oov")
            .field("maxlen", &self.maxlen)
            .finish_non_exhaustive()
    }
}

impl Oov {
    /// One intra-op thread, as hibari does: a word is a few dozen characters.
    pub(crate) fn load(
        environment: &Environment,
        model: &Path,
        meta: OovMeta,
    ) -> Result<Self, TtsError> {
        let bad = |e: &dyn std::fmt::Display| TtsError::HibariAsset {
            path: model.to_path_buf(),
            reason: e.to_string(),
        };
        let bytes = std::fs::read(model).map_err(|e| bad(&e))?;
        let session = crate::model::session(environment, &bytes, 1).map_err(|e| bad(&e))?;
        Ok(Self {
            session: Mutex::new(session),
            ids: meta.input.into_iter().zip(1..).collect(),
            phonemes: meta.out,
            maxlen: meta.maxlen,
        })
    }

    /// The word's phonemes; `None` when none of its characters is in the model's alphabet.
    pub(crate) fn read(&self, word: &str) -> Result<Option<String>, TtsError> {
        let ids: Vec<i64> = word
            .chars()
            .filter_map(|c| self.ids.get(c.encode_utf8(&mut [0; 4]) as &str).copied())
            .take(self.maxlen)
            .collect();
        if ids.is_empty() {
            return Ok(None);
        }
        let failed = |e: ort::Error| TtsError::HibariOov(e.to_string());
        let input = Tensor::from_array(([1usize, ids.len()], ids)).map_err(failed)?;
        let mut session = self.session.lock().unwrap_or_else(PoisonError::into_inner);
        let outputs = session
            .run(ort::inputs!["chars" => input])
            .map_err(failed)?;
        if outputs.len() == 0 {
            return Err(TtsError::HibariOov("the model produced no output".into()));
        }
        let (_, out) = outputs[0].try_extract_tensor::<i64>().map_err(failed)?;
        Ok(Some(collapse(out, &self.phonemes)))
    }
}

/// CTC decoding: repeats collapse, blanks (0) and unknown ids drop.
fn collapse(out: &[i64], phonemes: &[String]) -> String {
    let mut ps = String::new();
    let mut prev = 0;
    for &i in out {
        if i != prev && i != 0 {
            if let Some(p) = usize::try_from(i - 1).ok().and_then(|k| phonemes.get(k)) {
                ps.push_str(p);
            }
        }
        prev = i;
    }
    ps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctc_output_collapses_repeats_and_drops_blanks() {
        let phonemes: Vec<String> = ["k", "æ", "t"].iter().map(|s| s.to_string()).collect();
        assert_eq!(collapse(&[1, 1, 0, 2, 0, 2, 3, 3, 0], &phonemes), "kææt");
    }
}
