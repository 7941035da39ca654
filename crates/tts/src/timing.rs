//! Word timings: when each word of the request text is spoken in the clip, in seconds.
//!
//! A voice reports what it said as [`SpokenSpan`]s (sample ranges, each tied to a word of the
//! original text by index into [`text_words`]); [`word_timings`] turns them into exactly one
//! [`WordTiming`] per text word, in order. The words file beside a clip (`a/b.wav` →
//! `a/b.words.json`, [`words_path`]) holds that list as JSON and is written with the WAV,
//! both or neither (see `crate::wav`).
//!
//! Pure helpers for voices that phonemise clause by clause: [`link_clause_words`] ties the
//! words of the normalised clauses back to the original words, [`id_boundaries`] turns
//! per-id durations into sample offsets, and [`clause_spans`] maps the words the phonemiser
//! produced (it may merge "in the" into one word, or spell "1987" as three) onto the clause's
//! text words.

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::TtsError;
use crate::text::{self, Sentence};

/// One word of the text and when it is spoken, in seconds from the start of the clip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WordTiming {
    pub word: String,
    pub start: f64,
    pub end: f64,
}

/// A word of the original request text: its byte range and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextWord<'a> {
    pub range: Range<usize>,
    pub text: &'a str,
}

/// The text's own words: whitespace-separated, in order.
pub fn text_words(text: &str) -> Vec<TextWord<'_>> {
    let mut words = Vec::new();
    let mut start: Option<usize> = None;
    for (at, c) in text.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(from)) => {
                words.push(TextWord {
                    range: from..at,
                    text: &text[from..at],
                });
                start = None;
            }
            (false, None) => start = Some(at),
            _ => {}
        }
    }
    if let Some(from) = start {
        words.push(TextWord {
            range: from..text.len(),
            text: &text[from..],
        });
    }
    words
}

/// Samples `start..end` of the clip in which text word `word` (an index into
/// [`text_words`]) is heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpokenSpan {
    pub word: usize,
    pub start: u64,
    pub end: u64,
}

/// One timing per text word, in order. A word with several spans covers them all. A word
/// the voice did not speak (a lone "—") gets a zero-length span where it stands: at the end
/// of the word before it (or the start of the first spoken word, at the very beginning).
/// Starts never decrease and no word ends before it starts, whatever order the spans came in.
pub fn word_timings(text: &str, spans: &[SpokenSpan], sample_rate: u32) -> Vec<WordTiming> {
    let words = text_words(text);
    let mut covered: Vec<Option<(u64, u64)>> = vec![None; words.len()];
    for span in spans {
        let Some(slot) = covered.get_mut(span.word) else {
            log::warn!("a spoken span names word {} of {}", span.word, words.len());
            continue;
        };
        let (start, end) = (span.start, span.end.max(span.start));
        *slot = Some(match *slot {
            Some((s, e)) => (s.min(start), e.max(end)),
            None => (start, end),
        });
    }
    let first_spoken = covered.iter().flatten().next().map_or(0, |&(s, _)| s);
    // Whole microseconds: plenty for captions, and a short decimal reads back from JSON as
    // the very same f64.
    let seconds =
        |samples: u64| (samples as f64 * 1e6 / f64::from(sample_rate.max(1))).round() / 1e6;
    let mut previous_start = 0;
    let mut previous_end = first_spoken;
    words
        .iter()
        .zip(covered)
        .map(|(word, span)| {
            let (start, end) = span.unwrap_or((previous_end, previous_end));
            let start = start.max(previous_start);
            let end = end.max(start);
            previous_start = start;
            previous_end = end;
            WordTiming {
                word: word.text.to_owned(),
                start: seconds(start),
                end: seconds(end),
            }
        })
        .collect()
}

/// For each sentence, for each clause, the original word (index into `words`) that each of
/// the clause's whitespace-separated words came from. Normalisation may split a word ("a—b"
/// becomes "a, b": two clause words from one text word) or drop one (a lone "—"), never join
/// two; so each clause word is matched to the text word its first character came from, by
/// walking the normalised characters of the text words in step with the clauses'. Characters
/// the clauses lack (punctuation that ended a clause) are skipped.
pub fn link_clause_words(words: &[TextWord<'_>], sentences: &[Sentence]) -> Vec<Vec<Vec<usize>>> {
    let stream: Vec<(char, usize)> = words
        .iter()
        .enumerate()
        .flat_map(|(index, word)| {
            text::normalize(word.text)
                .chars()
                .filter(|c| !c.is_whitespace())
                .map(move |c| (c, index))
                .collect::<Vec<_>>()
        })
        .collect();
    let mut cursor = 0;
    let mut link = |clause_word: &str| -> usize {
        let mut first = None;
        for c in clause_word.chars() {
            if let Some(found) = stream[cursor..].iter().position(|&(s, _)| s == c) {
                first = first.or(Some(stream[cursor + found].1));
                cursor += found + 1;
            }
        }
        first
            .or_else(|| stream.get(cursor).map(|&(_, index)| index))
            .unwrap_or(words.len().saturating_sub(1))
    };
    sentences
        .iter()
        .map(|sentence| {
            sentence
                .clauses
                .iter()
                .map(|clause| clause.text.split_whitespace().map(&mut link).collect())
                .collect()
        })
        .collect()
}

/// The sample offset at which each id starts (and, last, where the utterance ends), from the
/// model's per-id durations in frames and the utterance's sample count. The hop (samples per
/// frame) is `samples / Σ durations`, derived per utterance rather than assumed: Piper voice
/// configs do not state it. For Piper voices it is an exact integer (256), so the offsets
/// are the frame counts' running sum × hop; should it not be, the frames are spread over the
/// samples in proportion, which keeps the offsets monotonic and ending at `samples`.
pub fn id_boundaries(durations: &[f32], samples: u64) -> Vec<u64> {
    let frames: Vec<u64> = durations
        .iter()
        .map(|&d| {
            if d.is_finite() && d > 0.0 {
                d.round() as u64
            } else {
                0
            }
        })
        .collect();
    let total: u64 = frames.iter().sum();
    let mut boundaries = Vec::with_capacity(frames.len() + 1);
    let mut sum = 0u64;
    boundaries.push(0);
    for f in frames {
        sum += f;
        let at = if total == 0 {
            0
        } else {
            // u128: frames × samples overflows u64 only for absurd clips, but costs nothing.
            ((u128::from(sum) * u128::from(samples) + u128::from(total) / 2) / u128::from(total))
                as u64
        };
        boundaries.push(at);
    }
    boundaries
}

/// How a clause word sounds when phonemised alone: how many words and sound characters the
/// phonemiser made of it ("1987" → 3 words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WordShape {
    pub words: usize,
    pub sounds: usize,
}

/// The spans of one clause's text words. `links` holds the text word of each clause word (see
/// [`link_clause_words`]); `spoken` the words the voice said for the clause, each as the
/// sample spans of its sound characters. When the counts agree, word k is clause word k.
/// Otherwise `shapes` (each clause word phonemised alone, asked for only then) decides: if
/// the clause words' own word counts add up to the spoken count, each clause word takes its
/// run of spoken words; if not (the phonemiser merged or split words in context), the
/// clause's sounds are shared among its words in proportion to their sound counts.
pub fn clause_spans<E>(
    links: &[usize],
    spoken: &[Vec<Range<u64>>],
    shapes: impl FnOnce() -> Result<Vec<WordShape>, E>,
) -> Result<Vec<SpokenSpan>, E> {
    let cover = |word: usize, sounds: &[Range<u64>]| -> Option<SpokenSpan> {
        Some(SpokenSpan {
            word,
            start: sounds.first()?.start,
            end: sounds.last()?.end,
        })
    };
    if spoken.is_empty() || links.is_empty() {
        return Ok(Vec::new());
    }
    if spoken.len() == links.len() {
        return Ok(links
            .iter()
            .zip(spoken)
            .filter_map(|(&word, sounds)| cover(word, sounds))
            .collect());
    }
    let shapes = shapes()?;
    if shapes.len() == links.len() && shapes.iter().map(|s| s.words).sum::<usize>() == spoken.len()
    {
        let mut next = 0;
        return Ok(links
            .iter()
            .zip(&shapes)
            .filter_map(|(&word, shape)| {
                let run: Vec<Range<u64>> = spoken[next..next + shape.words]
                    .iter()
                    .flatten()
                    .cloned()
                    .collect();
                next += shape.words;
                cover(word, &run)
            })
            .collect());
    }
    let sounds: Vec<Range<u64>> = spoken.iter().flatten().cloned().collect();
    let Some(last) = sounds.last() else {
        return Ok(Vec::new());
    };
    let weights: Vec<usize> = (0..links.len())
        .map(|k| shapes.get(k).map_or(1, |s| s.sounds))
        .collect();
    let total: usize = weights.iter().sum::<usize>().max(1);
    let at = |before: usize| (sounds.len() * before + total / 2) / total;
    let mut before = 0;
    Ok(links
        .iter()
        .zip(&weights)
        .map(|(&word, &weight)| {
            let (from, to) = (at(before), at(before + weight));
            before += weight;
            match sounds.get(from..to) {
                Some(run) if !run.is_empty() => SpokenSpan {
                    word,
                    start: run[0].start,
                    end: run[run.len() - 1].end,
                },
                _ => {
                    let here = sounds.get(from).map_or(last.end, |s| s.start);
                    SpokenSpan {
                        word,
                        start: here,
                        end: here,
                    }
                }
            }
        })
        .collect())
}

/// The extension that names a clip's word timings ([`words_path`]).
pub const WORDS_EXTENSION: &str = "words.json";

/// Where the word timings of the clip `audio` live: `a/b.wav` → `a/b.words.json`.
pub fn words_path(audio: &Path) -> PathBuf {
    audio.with_extension(WORDS_EXTENSION)
}

/// The word timings stored beside the clip `audio`; `None` when there is no words file.
pub fn read_words(audio: &Path) -> Result<Option<Vec<WordTiming>>, TtsError> {
    let path = words_path(audio);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(TtsError::io(path, e)),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|source| TtsError::WordsFile { path, source })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::text::MAX_SENTENCE_CHARS;

    fn span(word: usize, start: u64, end: u64) -> SpokenSpan {
        SpokenSpan { word, start, end }
    }

    fn timing(word: &str, start: f64, end: f64) -> WordTiming {
        WordTiming {
            word: word.to_owned(),
            start,
            end,
        }
    }

    #[test]
    fn text_words_are_whitespace_separated_with_byte_ranges() {
        let words = text_words("  In 1987,\u{00A0}Dr.\n\n“Smith” —  ");
        let shown: Vec<(Range<usize>, &str)> =
            words.iter().map(|w| (w.range.clone(), w.text)).collect();
        assert_eq!(
            shown,
            [
                (2..4, "In"),
                (5..10, "1987,"),
                (12..15, "Dr."),
                (17..28, "“Smith”"),
                (29..32, "—"),
            ]
        );
        assert!(text_words(" \n ").is_empty());
    }

    #[test]
    fn one_timing_per_word_in_seconds() {
        let spans = [span(0, 100, 300), span(1, 400, 1000), span(2, 1000, 1600)];
        assert_eq!(
            word_timings("The cat sat.", &spans, 100),
            [
                timing("The", 1.0, 3.0),
                timing("cat", 4.0, 10.0),
                timing("sat.", 10.0, 16.0)
            ]
        );
    }

    #[test]
    fn seconds_are_whole_microseconds() {
        let timings = word_timings("a", &[span(0, 1, 22050 + 7)], 22050);
        assert_eq!(timings, [timing("a", 0.000045, 1.000317)]);
    }

    #[test]
    fn a_word_with_several_spans_covers_them_all() {
        // "1987" spoken as three words, "Dr." as one, and a word split by normalisation.
        let spans = [
            span(0, 0, 10),
            span(1, 10, 20),
            span(1, 25, 30),
            span(1, 30, 50),
            span(2, 60, 70),
        ];
        assert_eq!(
            word_timings("In 1987, Dr.", &spans, 10),
            [
                timing("In", 0.0, 1.0),
                timing("1987,", 1.0, 5.0),
                timing("Dr.", 6.0, 7.0)
            ]
        );
    }

    #[test]
    fn unspoken_words_get_zero_length_where_they_stand() {
        let spans = [span(1, 20, 40), span(3, 60, 80)];
        assert_eq!(
            word_timings("\" paid — twice", &spans, 10),
            [
                timing("\"", 2.0, 2.0),
                timing("paid", 2.0, 4.0),
                timing("—", 4.0, 4.0),
                timing("twice", 6.0, 8.0)
            ]
        );
        assert_eq!(
            word_timings("— —", &[], 10),
            [timing("—", 0.0, 0.0), timing("—", 0.0, 0.0)]
        );
    }

    #[test]
    fn timings_are_monotonic_whatever_the_spans_say() {
        let spans = [
            span(0, 50, 90),
            span(1, 30, 20),
            span(2, 100, 110),
            span(9, 0, 1),
        ];
        let timings = word_timings("a b c", &spans, 10);
        assert_eq!(
            timings,
            [
                timing("a", 5.0, 9.0),
                timing("b", 5.0, 5.0),
                timing("c", 10.0, 11.0)
            ]
        );
    }

    fn clause_links(text: &str) -> Vec<Vec<Vec<usize>>> {
        let sentences = text::sentences(text, MAX_SENTENCE_CHARS).unwrap();
        link_clause_words(&text_words(text), &sentences)
    }

    #[test]
    fn clause_words_link_back_to_the_original_words() {
        // Words: 0 In, 1 1987,, 2 Dr., 3 Smith, 4 paid, 5 $9.99, 6 —, 7 twice.
        assert_eq!(
            clause_links("In 1987, Dr. Smith paid $9.99 — twice."),
            [vec![vec![0, 1], vec![2, 3, 4, 5], vec![7]]]
        );
        // An unspaced dash splits one text word into two clause words; quotes stay.
        assert_eq!(
            clause_links("“Stop!” she\u{00A0}said.  It was\n\nlate—very late."),
            [
                vec![vec![0], vec![1, 2]],
                vec![vec![3, 4]],
                vec![vec![5], vec![5, 6]],
            ]
        );
    }

    #[test]
    fn durations_become_sample_offsets() {
        // Piper: frames × 256 = samples exactly.
        assert_eq!(
            id_boundaries(&[1.0, 0.0, 3.0, 2.0], 1536),
            [0, 256, 256, 1024, 1536]
        );
        // Not a whole hop: frames spread in proportion, still ending at the sample count.
        assert_eq!(id_boundaries(&[1.0, 1.0, 1.0], 100), [0, 33, 67, 100]);
        assert_eq!(id_boundaries(&[0.0, f32::NAN], 0), [0, 0, 0]);
    }

    fn sounds(spans: &[(u64, u64)]) -> Vec<Range<u64>> {
        spans.iter().map(|&(s, e)| s..e).collect()
    }

    fn no_shapes() -> Result<Vec<WordShape>, String> {
        Err("not needed".into())
    }

    #[test]
    fn equal_counts_map_word_for_word() {
        let spoken = [sounds(&[(0, 5), (5, 9)]), sounds(&[(12, 20)])];
        assert_eq!(
            clause_spans(&[4, 5], &spoken, no_shapes),
            Ok(vec![span(4, 0, 9), span(5, 12, 20)])
        );
        assert_eq!(clause_spans(&[4], &[], no_shapes), Ok(vec![]));
    }

    #[test]
    fn a_word_spelled_as_several_takes_its_run() {
        // "In 1987": "ɪn | nˈaɪntiːnhˈʌndɹɪd ˈeɪɾi sˈɛvən".
        let spoken = [
            sounds(&[(0, 10)]),
            sounds(&[(10, 30)]),
            sounds(&[(32, 40)]),
            sounds(&[(40, 55), (55, 60)]),
        ];
        let shapes = || {
            Ok::<_, String>(vec![
                WordShape {
                    words: 1,
                    sounds: 2,
                },
                WordShape {
                    words: 3,
                    sounds: 25,
                },
            ])
        };
        assert_eq!(
            clause_spans(&[0, 1], &spoken, shapes),
            Ok(vec![span(0, 0, 10), span(1, 10, 60)])
        );
    }

    #[test]
    fn merged_words_share_the_sounds_by_count() {
        // "in the end" phonemised in context as "ɪnðɪ ˈɛnd" (two words for three).
        let spoken = [
            sounds(&[(0, 2), (2, 4), (4, 6), (6, 8)]),
            sounds(&[(10, 12), (12, 14), (14, 16), (16, 18)]),
        ];
        let shape = |sounds| WordShape { words: 1, sounds };
        let shapes = || Ok::<_, String>(vec![shape(2), shape(2), shape(4)]);
        assert_eq!(
            clause_spans(&[7, 8, 9], &spoken, shapes),
            Ok(vec![span(7, 0, 4), span(8, 4, 8), span(9, 10, 18)])
        );
        // A word with no sounds of its own gets a zero-length span where it falls.
        let shapes = || Ok::<_, String>(vec![shape(4), shape(0), shape(4)]);
        assert_eq!(
            clause_spans(&[7, 8, 9], &spoken, shapes),
            Ok(vec![span(7, 0, 8), span(8, 10, 10), span(9, 10, 18)])
        );
        assert_eq!(
            clause_spans(&[7, 8, 9], &spoken, || Err("espeak failed".to_owned())),
            Err("espeak failed".to_owned())
        );
    }

    #[test]
    fn words_file_sits_beside_the_clip() {
        assert_eq!(
            words_path(Path::new("a/b.wav")),
            PathBuf::from("a/b.words.json")
        );
        assert_eq!(
            words_path(Path::new("clip")),
            PathBuf::from("clip.words.json")
        );
        let dir = tempfile::tempdir().unwrap();
        let audio = dir.path().join("n.wav");
        assert!(read_words(&audio).unwrap().is_none());
        std::fs::write(
            words_path(&audio),
            r#"[{"word":"Hi.","start":0.25,"end":0.5}]"#,
        )
        .unwrap();
        assert_eq!(
            read_words(&audio).unwrap(),
            Some(vec![timing("Hi.", 0.25, 0.5)])
        );
        std::fs::write(words_path(&audio), b"{").unwrap();
        let err = read_words(&audio).unwrap_err();
        assert!(matches!(err, TtsError::WordsFile { .. }), "{err}");
    }
}
