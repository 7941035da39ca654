//! The hibari voice put together: sentences → G2P → ids → model → DSP, one chunk of at most
//! [`sentences::MAX_PHONEMES`] phonemes per model call, chunks joined without added pauses
//! (the model speaks its own pauses at punctuation), as the reference package does. Every
//! phoneme keeps the text token it came from, so the model's per-id durations give each word
//! of the text its span of samples.

use std::ops::Range;
use std::path::Path;

use ort::environment::Environment;

use super::dsp::{self, Vocoder, HOP};
use super::g2p::{G2p, Phonemes};
use super::model::{HibariModel, FRAMES_PER_DURATION, MODEL_FILE};
use super::sentences;
use super::vocab::{Ids, Vocab, VOCAB_FILE};
use crate::error::TtsError;
use crate::parallel;
use crate::timing::{SpokenSpan, TextWord};

/// Samples per unit of the model's durations (two frames of one hop each).
const SAMPLES_PER_DURATION: u64 = (FRAMES_PER_DURATION * HOP) as u64;

/// The loaded voice: shared by every synthesis (the model runs one chunk at a time).
#[derive(Debug)]
pub struct HibariVoice {
    g2p: G2p,
    vocab: Vocab,
    model: HibariModel,
}

/// What one text became.
#[derive(Debug, Default)]
pub(crate) struct Spoken {
    /// Model calls that produced sound.
    pub chunks: usize,
    pub spans: Vec<SpokenSpan>,
}

/// One model call's worth of a sentence: where the sentence starts in the text, its
/// phonemes (with their sources) and their ids.
struct Chunk {
    sentence_start: usize,
    phonemes: Phonemes,
    ids: Ids,
}

impl HibariVoice {
    /// Loads the G2P, the vocabulary and the model from the hibari folder, with `sessions`
    /// model sessions of `threads` intra-op threads each. The reason of a model that does not
    /// load is the error's text; the caller names the voice.
    pub fn load(
        dir: &Path,
        environment: &Environment,
        sessions: usize,
        threads: usize,
    ) -> Result<Self, TtsError> {
        let model_path = dir.join(MODEL_FILE);
        let model =
            HibariModel::load(environment, &model_path, sessions, threads).map_err(|reason| {
                TtsError::Voice {
                    id: super::VOICE_ID.to_owned(),
                    path: model_path,
                    reason,
                }
            })?;
        Ok(Self {
            g2p: G2p::load(dir, environment)?,
            vocab: Vocab::load(&dir.join(VOCAB_FILE))?,
            model,
        })
    }

    /// Speaks `text` at `speed`, handing each chunk's samples to `write` in order as soon as
    /// it and those before it are made; `offset` is where the first sample lands in the
    /// output. Chunks are synthesised on as many threads as the model has sessions
    /// ([`crate::parallel`]); `cancel` is consulted after each chunk. The same text always
    /// gives the same samples (the noise is seeded by the chunk's place in the text).
    pub(crate) fn speak(
        &self,
        text: &str,
        speed: f32,
        words: &[TextWord<'_>],
        offset: u64,
        write: &mut dyn FnMut(&[f32]) -> Result<(), TtsError>,
        cancel: &dyn Fn() -> bool,
    ) -> Result<Spoken, TtsError> {
        let inference = |reason: String| TtsError::Inference {
            voice: super::VOICE_ID.to_owned(),
            reason,
        };
        // Phonemised lazily, by whichever worker takes the next chunk.
        let chunks = sentences::split_sentences(text, self.g2p.titles())
            .into_iter()
            .flat_map(|sentence| match self.g2p.phonemize(sentence.text) {
                Ok(phonemes) => sentences::chunk(phonemes)
                    .into_iter()
                    .map(|phonemes| {
                        Ok(Chunk {
                            sentence_start: sentence.start,
                            ids: self.vocab.ids(&phonemes.text),
                            phonemes,
                        })
                    })
                    .collect(),
                Err(error) => vec![Err(error)],
            })
            .filter(|chunk| {
                chunk
                    .as_ref()
                    .map_or(true, |chunk| chunk.ids.ids.len() >= 3)
            });
        let vocoders = (0..self.model.sessions()).map(|_| Vocoder::new()).collect();
        let mut spoken = Spoken::default();
        let mut at = offset;
        parallel::in_order(
            chunks,
            vocoders,
            |vocoder, index, chunk: Result<Chunk, TtsError>| {
                let chunk = chunk?;
                let spectra = self.model.infer(&chunk.ids.ids, speed).map_err(inference)?;
                let samples = vocoder
                    .synth(&spectra, dsp::seeded_noise(index as u64))
                    .map_err(inference)?;
                Ok((chunk, spectra.durations().to_vec(), samples))
            },
            |(chunk, durations, samples)| {
                let word_of = |id: usize| {
                    let char_index = *chunk.ids.chars.get(id.checked_sub(1)?)?;
                    let source = (*chunk.phonemes.sources.get(char_index)?)?;
                    word_at(words, chunk.sentence_start + source)
                };
                spoken.spans.extend(spans(
                    &chunk.ids,
                    &durations,
                    word_of,
                    at..at + samples.len() as u64,
                ));
                write(&samples)?;
                at += samples.len() as u64;
                spoken.chunks += 1;
                if cancel() {
                    return Err(TtsError::Cancelled);
                }
                Ok(())
            },
        )?;
        Ok(spoken)
    }
}

/// The index of the text word holding byte `offset` (the last word starting at or before it).
fn word_at(words: &[TextWord<'_>], offset: usize) -> Option<usize> {
    words
        .partition_point(|word| word.range.start <= offset)
        .checked_sub(1)
}

/// The spans of one chunk: consecutive ids of one word make one span, from the start of its
/// first id to the end of its last, in samples (`durations` are per id, pads included, in
/// units of [`SAMPLES_PER_DURATION`]; `clip` is where the chunk's samples land). Ids of no
/// word (pads, the spaces between words) make none.
fn spans(
    ids: &Ids,
    durations: &[f32],
    word_of: impl Fn(usize) -> Option<usize>,
    clip: Range<u64>,
) -> Vec<SpokenSpan> {
    let mut spans: Vec<SpokenSpan> = Vec::new();
    let mut start = clip.start;
    for (id, duration) in durations.iter().enumerate().take(ids.ids.len()) {
        let end = (start + duration.max(0.0).round() as u64 * SAMPLES_PER_DURATION).min(clip.end);
        if let Some(word) = word_of(id) {
            match spans.last_mut() {
                Some(last) if last.word == word && last.end == start => last.end = end,
                _ => spans.push(SpokenSpan { word, start, end }),
            }
        }
        start = end;
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timing::text_words;

    #[test]
    fn words_are_found_by_byte_offset() {
        let text = "In 1987 Dr. Smith";
        let words = text_words(text);
        assert_eq!(word_at(&words, 0), Some(0));
        assert_eq!(word_at(&words, 3), Some(1));
        assert_eq!(word_at(&words, 6), Some(1));
        assert_eq!(word_at(&words, 8), Some(2));
        assert_eq!(word_at(&words, 16), Some(3));
        assert_eq!(word_at(&[], 3), None);
    }

    #[test]
    fn ids_of_one_word_make_one_span_in_samples() {
        // pad, "a" "b" (word 0), space, "c" (word 1), pad.
        let ids = Ids {
            ids: vec![0, 1, 2, 16, 3, 0],
            chars: vec![0, 1, 2, 3],
        };
        let words = [None, Some(0), Some(0), None, Some(1), None];
        let durations = [1.0, 2.0, 1.0, 1.0, 3.0, 2.0];
        let spans = spans(&ids, &durations, |id| words[id], 1000..1000 + 10 * 600);
        assert_eq!(
            spans,
            [
                SpokenSpan {
                    word: 0,
                    start: 1600,
                    end: 3400
                },
                SpokenSpan {
                    word: 1,
                    start: 4000,
                    end: 5800
                },
            ]
        );
    }
}
