//! Subtitle cues: splitting narration text into short lines, timing them (from the voice's word
//! timings when there are some, else across the narration), and writing (and reading back)
//! SRT and WebVTT files.
//!
//! Pure text and arithmetic, no I/O.

use std::fmt::Write as _;

use crate::plan::spec::RenderSpec;
use crate::plan::spec::SpokenWord;
use crate::plan::timeline::Timeline;

/// At most this many words on a subtitle line.
pub const MAX_WORDS_PER_LINE: usize = 6;
/// A line may end at punctuation once it has this many words.
pub const MIN_WORDS_BEFORE_PUNCTUATION: usize = 4;

/// One subtitle line, shown from `start` to `end` (seconds, `end` exclusive).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Cue {
    pub start: f64,
    pub end: f64,
    pub text: String,
    /// When each word of `text` (split at whitespace) starts being spoken, in seconds on the
    /// same clock as `start`; a word is being spoken until the next one starts (the last one
    /// until `end`). Empty when the narration has no word timings.
    pub word_starts: Vec<f64>,
}

impl Cue {
    /// The video frames that show this cue at `fps`: those whose presentation time
    /// `frame / fps` is in `[start, end)`. Contiguous cues give contiguous, disjoint ranges.
    pub fn frames(&self, fps: u32) -> std::ops::Range<u64> {
        first_frame(self.start, fps)..first_frame(self.end, fps)
    }

    /// The first frame at `fps` on which each word is being spoken, by the rule of
    /// [`frames`](Self::frames) (a word that starts between two frames shows from the later).
    pub fn word_frames(&self, fps: u32) -> Vec<u64> {
        self.word_starts
            .iter()
            .map(|&start| first_frame(start, fps))
            .collect()
    }
}

/// The first frame whose presentation time is at or after `seconds`.
fn first_frame(seconds: f64, fps: u32) -> u64 {
    // A cue starting 2.0 s in at 15 fps starts at frame 30, not 31 because of float error.
    (seconds * f64::from(fps) - 1e-6).ceil().max(0.0) as u64
}

/// Why an SRT or WebVTT text could not be read. `line` is 1-based.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

/// Splits `text` into lines of at most `max_words` words (at least 1), in order, words
/// separated by single spaces. Words are never split, dropped or reordered.
///
/// Where a line ends, in order of preference:
/// 1. after the first word ending a sentence (`. ! ? ; : …`) once the line has
///    `min_words_before_punct` words;
/// 2. at the end of the text, when the rest fits on the line;
/// 3. after the last comma-like word (`,`) once the line has `min_words_before_punct` words;
/// 4. after the last sentence end, however few words precede it ("Hello world." stays apart
///    from the next sentence rather than starting a line that straddles both);
/// 5. halfway through the run up to the next punctuation, when that run fits on two lines, so
///    a seven-word clause becomes 4 + 3 words rather than 6 + 1;
/// 6. after `max_words` words.
///
/// Closing quotes and brackets after punctuation are ignored (`home."` ends a sentence), a few
/// English abbreviations (`Dr.`, `Mr.`, ...) do not end one, and `3.5` is just a word.
pub fn chunk_text(text: &str, max_words: usize, min_words_before_punct: usize) -> Vec<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    line_ranges(&words, max_words, min_words_before_punct)
        .into_iter()
        .map(|line| words[line].join(" "))
        .collect()
}

/// [`chunk_text`]'s lines as ranges of indexes into `words`.
fn line_ranges(
    words: &[&str],
    max_words: usize,
    min_words_before_punct: usize,
) -> Vec<std::ops::Range<usize>> {
    let breaks: Vec<Break> = words.iter().map(|w| break_after(w)).collect();
    let max = max_words.max(1);
    let min = min_words_before_punct.max(1);
    let mut lines = Vec::new();
    let mut start = 0;
    while start < words.len() {
        let end = line_end(&breaks, start, max, min);
        lines.push(start..end);
        start = end;
    }
    lines
}

/// Exclusive end of the line that starts at word `start` (see [`chunk_text`] for the rules).
fn line_end(breaks: &[Break], start: usize, max: usize, min: usize) -> usize {
    let n = breaks.len();
    let limit = n.min(start + max);
    // Word indexes on this line after which it would have at least `min` words.
    let long_enough = (start + min - 1).min(limit)..limit;
    if let Some(i) = long_enough.clone().find(|&i| breaks[i] == Break::Strong) {
        return i + 1;
    }
    if limit == n {
        return n;
    }
    if let Some(i) = long_enough.rev().find(|&i| breaks[i] == Break::Weak) {
        return i + 1;
    }
    if let Some(i) = (start..limit).rev().find(|&i| breaks[i] == Break::Strong) {
        return i + 1;
    }
    let run_end = (limit..n)
        .find(|&i| breaks[i] != Break::None)
        .map_or(n, |i| i + 1);
    let run = run_end - start;
    if run <= 2 * max {
        return start + run.div_ceil(2);
    }
    limit
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Break {
    None,
    Weak,
    Strong,
}

/// Abbreviations whose final `.` does not end a sentence (compared in lower case).
const ABBREVIATIONS: [&str; 10] = [
    "mr.", "mrs.", "ms.", "dr.", "prof.", "st.", "jr.", "sr.", "vs.", "e.g.",
];

fn break_after(word: &str) -> Break {
    let core = word.trim_end_matches(['"', '\'', ')', ']', '}', '”', '’', '»']);
    match core.chars().last() {
        Some('.') if ABBREVIATIONS.contains(&core.to_lowercase().as_str()) => Break::None,
        Some('.' | '!' | '?' | ';' | ':' | '…' | '。' | '！' | '？' | '；' | '：') => {
            Break::Strong
        }
        Some(',' | '，' | '、') => Break::Weak,
        _ => Break::None,
    }
}

/// Every segment's subtitle cues, in order, over its narration (not its silence gap): from its
/// word timings when it has some that fit its text ([`timed_cues`]), else spread over the
/// narration ([`cues_for_segment`]). Also a warning for each segment whose timings do not fit.
pub fn timeline_cues(spec: &RenderSpec, timeline: &Timeline) -> (Vec<Cue>, Vec<String>) {
    let rate = f64::from(timeline.sample_rate());
    let mut cues = Vec::new();
    let mut warnings = Vec::new();
    for (i, (segment, timing)) in spec.segments.iter().zip(timeline.segments()).enumerate() {
        let start = timing.start_sample as f64 / rate;
        let narration = timing.narration_samples as f64 / rate;
        let timed = segment
            .words
            .as_deref()
            .map(|words| timed_cues(&segment.text, words, start, narration));
        match timed {
            Some(Ok(timed)) => cues.extend(timed),
            Some(Err(mismatch)) => {
                warnings.push(format!(
                    "segment {}: the captions do not follow the voice ({mismatch}); they are \
                     spread over the narration instead",
                    i + 1
                ));
                cues.extend(cues_for_segment(&segment.text, start, narration));
            }
            None => cues.extend(cues_for_segment(&segment.text, start, narration)),
        }
    }
    (cues, warnings)
}

/// Why a segment's word timings cannot time its captions.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TimingMismatch {
    #[error("{timed} word timings for {words} words of text")]
    Count { timed: usize, words: usize },
    /// `index` is 1-based.
    #[error("word {index} is timed as `{timed}` but the text says `{text}`")]
    Word {
        index: usize,
        timed: String,
        text: String,
    },
    /// A time that is negative or not a number, ends before it starts, or starts before the
    /// previous word's start. `index` is 1-based.
    #[error("word {index} has impossible times")]
    Times { index: usize },
}

/// Subtitle cues for one segment from the time each of its words is spoken (`words`, seconds
/// from the narration's start, which is `start` on the video's clock): the lines of
/// [`chunk_text`] (6 words, punctuation after 4), each shown from its first word's start until
/// the next line's first word starts, the last one until its last word ends, with every word's
/// start. Times past the narration's `narration` seconds are cut to its end.
///
/// The timings must be those of `text`: one per whitespace-separated word, the same words in
/// order, starts never going back. Empty text gives no cues.
pub fn timed_cues(
    text: &str,
    words: &[SpokenWord],
    start: f64,
    narration: f64,
) -> Result<Vec<Cue>, TimingMismatch> {
    let text_words: Vec<&str> = text.split_whitespace().collect();
    if words.len() != text_words.len() {
        return Err(TimingMismatch::Count {
            timed: words.len(),
            words: text_words.len(),
        });
    }
    let mut previous_start = 0.0;
    for (i, (spoken, &written)) in words.iter().zip(&text_words).enumerate() {
        if spoken.word.trim() != written {
            return Err(TimingMismatch::Word {
                index: i + 1,
                timed: spoken.word.clone(),
                text: written.to_string(),
            });
        }
        // Written so that NaN fails too.
        let valid = spoken.start >= previous_start && spoken.end >= spoken.start;
        if !(valid && spoken.end.is_finite()) {
            return Err(TimingMismatch::Times { index: i + 1 });
        }
        previous_start = spoken.start;
    }
    let at = |seconds: f64| start + seconds.min(narration.max(0.0));
    let lines = line_ranges(
        &text_words,
        MAX_WORDS_PER_LINE,
        MIN_WORDS_BEFORE_PUNCTUATION,
    );
    let mut cues = Vec::with_capacity(lines.len());
    for (k, line) in lines.iter().enumerate() {
        let end = match lines.get(k + 1) {
            Some(next) => words[next.start].start,
            None => words[line.end - 1].end,
        };
        cues.push(Cue {
            start: at(words[line.start].start),
            end: at(end),
            text: text_words[line.clone()].join(" "),
            word_starts: words[line.clone()].iter().map(|w| at(w.start)).collect(),
        });
    }
    Ok(cues)
}

/// Subtitle cues for one segment whose narration starts at `start` and lasts `narration`
/// seconds: its text split by [`chunk_text`] (6 words, punctuation after 4), each line shown
/// for a share of the narration proportional to its number of non-whitespace characters.
///
/// The cues are contiguous and cover exactly `[start, start + narration)`: the first starts at
/// `start`, each starts where the previous ends, and the last ends at `start + narration` (the
/// silence after the narration has no subtitle). Boundaries come from cumulative character
/// fractions, so there is no drift. Empty text or a non-positive narration gives no cues.
pub fn cues_for_segment(text: &str, start: f64, narration: f64) -> Vec<Cue> {
    if !(narration > 0.0 && narration.is_finite() && start.is_finite()) {
        return Vec::new();
    }
    let lines = chunk_text(text, MAX_WORDS_PER_LINE, MIN_WORDS_BEFORE_PUNCTUATION);
    let weights: Vec<usize> = lines
        .iter()
        .map(|l| l.chars().filter(|c| !c.is_whitespace()).count())
        .collect();
    let total: usize = weights.iter().sum();
    let mut cues = Vec::with_capacity(lines.len());
    let mut done = 0;
    let mut cue_start = start;
    for (text, weight) in lines.into_iter().zip(weights) {
        done += weight;
        // At the last line `done == total`: the fraction is exactly 1.0.
        let end = start + narration * (done as f64 / total as f64);
        cues.push(Cue {
            start: cue_start,
            end,
            text,
            word_starts: Vec::new(),
        });
        cue_start = end;
    }
    cues
}

/// Milliseconds for each cue, rounded to nearest, never before the previous cue's end and
/// never ending before starting: rounding cannot make cues overlap.
fn cue_millis(cues: &[Cue]) -> Vec<(u64, u64)> {
    let mut previous_end = 0;
    cues.iter()
        .map(|cue| {
            let start = to_millis(cue.start).max(previous_end);
            let end = to_millis(cue.end).max(start);
            previous_end = end;
            (start, end)
        })
        .collect()
}

fn to_millis(seconds: f64) -> u64 {
    // `as` saturates: NaN and negatives become 0.
    (seconds * 1000.0).round() as u64
}

fn write_timestamp(out: &mut String, millis: u64, separator: char) {
    let (h, rest) = (millis / 3_600_000, millis % 3_600_000);
    let (m, rest) = (rest / 60_000, rest % 60_000);
    let (s, ms) = (rest / 1000, rest % 1000);
    let _ = write!(out, "{h:02}:{m:02}:{s:02}{separator}{ms:03}");
}

/// Cue text as lines, without the empty lines that would end the cue early.
fn text_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(str::trim).filter(|l| !l.is_empty())
}

/// The cues as a SubRip file: numbered from 1, `HH:MM:SS,mmm --> HH:MM:SS,mmm`, each cue
/// followed by an empty line.
pub fn to_srt(cues: &[Cue]) -> String {
    let mut out = String::new();
    for (i, (cue, (start, end))) in cues.iter().zip(cue_millis(cues)).enumerate() {
        let _ = writeln!(out, "{}", i + 1);
        write_timestamp(&mut out, start, ',');
        out.push_str(" --> ");
        write_timestamp(&mut out, end, ',');
        out.push('\n');
        for line in text_lines(&cue.text) {
            out.push_str(line);
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

/// The cues as a WebVTT file: the `WEBVTT` header, then each cue as
/// `HH:MM:SS.mmm --> HH:MM:SS.mmm` and its text (`&`, `<`, `>` escaped), blank-line separated.
///
/// A cue with word timings is one line with a timestamp tag before each word after the first,
/// at the word's start (WebVTT's karaoke timing): `Hello <00:00:01.240>there`. Tags are in
/// milliseconds, kept inside the cue's own (rounded) times.
pub fn to_vtt(cues: &[Cue]) -> String {
    let mut out = String::from("WEBVTT\n\n");
    for (cue, (start, end)) in cues.iter().zip(cue_millis(cues)) {
        write_timestamp(&mut out, start, '.');
        out.push_str(" --> ");
        write_timestamp(&mut out, end, '.');
        out.push('\n');
        let words: Vec<&str> = cue.text.split_whitespace().collect();
        if !words.is_empty() && words.len() == cue.word_starts.len() {
            for (i, (word, &at)) in words.iter().zip(&cue.word_starts).enumerate() {
                if i > 0 {
                    out.push_str(" <");
                    write_timestamp(&mut out, to_millis(at).clamp(start, end), '.');
                    out.push('>');
                }
                out.push_str(&escape_vtt(word));
            }
            out.push('\n');
        } else {
            for line in text_lines(&cue.text) {
                out.push_str(&escape_vtt(line));
                out.push('\n');
            }
        }
        out.push('\n');
    }
    out
}

fn escape_vtt(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `line` without its WebVTT tags (`<b>`, `<00:00:01.240>`, ...).
fn strip_tags(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut in_tag = false;
    for c in line.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// Reads a SubRip file as written by [`to_srt`]: blocks of a sequence number (1, 2, ...), a
/// timing line and one or more text lines, separated by empty lines.
pub fn parse_srt(input: &str) -> Result<Vec<Cue>, ParseError> {
    let mut cues = Vec::new();
    for block in blocks(input) {
        let (number_line, number) = block[0];
        if number.trim().parse::<usize>().ok() != Some(cues.len() + 1) {
            return Err(error(
                number_line,
                format!("expected cue number {}", cues.len() + 1),
            ));
        }
        let Some(&(timing_line, timing)) = block.get(1) else {
            return Err(error(number_line, "cue has no timing line"));
        };
        let (start, end) = parse_timing(timing, ',', false)
            .ok_or_else(|| error(timing_line, "expected `HH:MM:SS,mmm --> HH:MM:SS,mmm`"))?;
        cues.push(cue(start, end, &block[2..], timing_line, false)?);
    }
    Ok(cues)
}

/// Reads a WebVTT file as written by [`to_vtt`]: the `WEBVTT` header, then blocks of an
/// optional cue identifier, a timing line (`[HH:]MM:SS.mmm --> [HH:]MM:SS.mmm`, no settings)
/// and one or more text lines. Tags (the word timestamps of [`to_vtt`] among them) are
/// dropped and `&amp;`, `&lt;` and `&gt;` unescaped; notes, styles and cue settings are not
/// supported.
pub fn parse_vtt(input: &str) -> Result<Vec<Cue>, ParseError> {
    let input = input.strip_prefix('\u{feff}').unwrap_or(input);
    let mut blocks = blocks(input);
    let header = blocks.first().map(|b| b[0].1);
    if !header.is_some_and(|h| h == "WEBVTT" || h.starts_with("WEBVTT ")) {
        return Err(error(1, "missing the WEBVTT header"));
    }
    blocks.remove(0);
    let mut cues = Vec::new();
    for block in blocks {
        // A first line without "-->" is the cue identifier.
        let skip = usize::from(!block[0].1.contains("-->"));
        let Some(&(timing_line, timing)) = block.get(skip) else {
            return Err(error(block[0].0, "cue has no timing line"));
        };
        let (start, end) = parse_timing(timing, '.', true)
            .ok_or_else(|| error(timing_line, "expected `HH:MM:SS.mmm --> HH:MM:SS.mmm`"))?;
        cues.push(cue(start, end, &block[skip + 1..], timing_line, true)?);
    }
    Ok(cues)
}

fn error(line: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        line,
        message: message.into(),
    }
}

/// Groups non-empty lines (with their 1-based numbers) into blank-line separated blocks.
fn blocks(input: &str) -> Vec<Vec<(usize, &str)>> {
    let mut blocks = Vec::new();
    let mut current = Vec::new();
    for (i, line) in input.lines().enumerate() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                blocks.push(std::mem::take(&mut current));
            }
        } else {
            current.push((i + 1, line));
        }
    }
    if !current.is_empty() {
        blocks.push(current);
    }
    blocks
}

fn cue(
    start: u64,
    end: u64,
    text: &[(usize, &str)],
    timing_line: usize,
    unescape: bool,
) -> Result<Cue, ParseError> {
    if text.is_empty() {
        return Err(error(timing_line, "cue has no text"));
    }
    if end < start {
        return Err(error(timing_line, "cue ends before it starts"));
    }
    let lines: Vec<String> = text
        .iter()
        .map(|&(_, l)| {
            if unescape {
                strip_tags(l)
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&amp;", "&")
            } else {
                l.to_string()
            }
        })
        .collect();
    Ok(Cue {
        start: start as f64 / 1000.0,
        end: end as f64 / 1000.0,
        text: lines.join("\n"),
        word_starts: Vec::new(),
    })
}

fn parse_timing(line: &str, separator: char, hours_optional: bool) -> Option<(u64, u64)> {
    let (start, end) = line.split_once(" --> ")?;
    Some((
        parse_timestamp(start, separator, hours_optional)?,
        parse_timestamp(end, separator, hours_optional)?,
    ))
}

/// `HH:MM:SS<sep>mmm` in milliseconds (hours: two or more digits, optional for WebVTT).
fn parse_timestamp(text: &str, separator: char, hours_optional: bool) -> Option<u64> {
    let (clock, ms) = text.split_once(separator)?;
    let fields: Vec<&str> = clock.split(':').collect();
    let (h, m, s) = match fields[..] {
        [h, m, s] if h.len() >= 2 => (number(h)?, m, s),
        [m, s] if hours_optional => (0, m, s),
        _ => return None,
    };
    let (m, s) = (
        number(m).filter(|_| m.len() == 2)?,
        number(s).filter(|_| s.len() == 2)?,
    );
    let ms = number(ms).filter(|_| ms.len() == 3)?;
    (m < 60 && s < 60).then_some(((h * 60 + m) * 60 + s) * 1000 + ms)
}

fn number(digits: &str) -> Option<u64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cues_cover_the_frames_whose_time_falls_inside() {
        let cue = |start: f64, end: f64| Cue {
            start,
            end,
            ..Cue::default()
        };
        assert_eq!(cue(0.0, 1.0).frames(15), 0..15);
        assert_eq!(cue(2.0, 2.1).frames(15), 30..32); // 2.0 * 15 is 30, whatever the rounding
        assert_eq!(cue(0.1, 0.15).frames(30), 3..5); // frame 3 is at 0.1 s, frame 5 at 0.1667
        assert_eq!(cue(1.01, 1.02).frames(30), 31..31); // between two frames: never shown
                                                        // Contiguous cues: each frame in exactly one.
        let (a, b) = (cue(0.0, 1.234_567), cue(1.234_567, 2.0));
        assert_eq!(a.frames(24).end, b.frames(24).start);
    }

    fn chunks(text: &str) -> Vec<String> {
        chunk_text(text, MAX_WORDS_PER_LINE, MIN_WORDS_BEFORE_PUNCTUATION)
    }

    fn cue(start: f64, end: f64, text: &str) -> Cue {
        Cue {
            start,
            end,
            text: text.to_string(),
            word_starts: Vec::new(),
        }
    }

    #[test]
    fn empty_and_blank_text_give_no_lines_and_no_cues() {
        assert!(chunks("").is_empty());
        assert!(chunks(" \n\t ").is_empty());
        assert!(cues_for_segment("", 0.0, 3.0).is_empty());
        assert!(cues_for_segment("   ", 1.0, 3.0).is_empty());
    }

    #[test]
    fn one_word_is_one_line_covering_the_narration() {
        assert_eq!(chunks("  Hello \n"), ["Hello"]);
        assert_eq!(
            cues_for_segment("Hello", 2.5, 1.5),
            [cue(2.5, 4.0, "Hello")]
        );
    }

    #[test]
    fn short_sentence_stays_on_one_line_with_normalised_spaces() {
        assert_eq!(
            chunks("The  cat\tsat\n on the mat."),
            ["The cat sat on the mat."]
        );
    }

    #[test]
    fn sentence_end_after_four_words_ends_the_line() {
        assert_eq!(
            chunks("We all went home. Then we slept."),
            ["We all went home.", "Then we slept."]
        );
        assert_eq!(
            chunks("Is it over yet? No! Not at all; keep going: now"),
            ["Is it over yet?", "No! Not at all;", "keep going: now"]
        );
    }

    #[test]
    fn short_sentence_is_not_merged_into_a_straddling_line() {
        assert_eq!(
            chunks("Hello world. This is a test of subtitles."),
            ["Hello world.", "This is a test of subtitles."]
        );
    }

    #[test]
    fn comma_is_a_weaker_break_used_only_when_the_line_must_end() {
        assert_eq!(
            chunks("Once upon a time, there lived a king."),
            ["Once upon a time,", "there lived a king."]
        );
        // The rest fits on one line: the comma does not split it.
        assert_eq!(
            chunks("Once upon a time, a king"),
            ["Once upon a time, a king"]
        );
        // Too early for the comma (2 words): the clause is balanced instead.
        assert_eq!(
            chunks("Yes, the old man walked slowly down the road"),
            ["Yes, the old man walked", "slowly down the road"]
        );
    }

    #[test]
    fn long_sentences_are_balanced_or_cut_at_six_words() {
        // 7 words: 4 + 3, not 6 + 1.
        assert_eq!(
            chunks("one two three four five six seven"),
            ["one two three four", "five six seven"]
        );
        // 12 words: 6 + 6.
        assert_eq!(
            chunks("a b c d e f g h i j k l"),
            ["a b c d e f", "g h i j k l"]
        );
        // 13 words: too long for two lines, so 6, then the 7 left balanced as 4 + 3.
        assert_eq!(
            chunks("It was a dark and stormy night and the rain fell in torrents."),
            [
                "It was a dark and stormy",
                "night and the rain",
                "fell in torrents."
            ]
        );
        for line in chunks(&"word ".repeat(100)) {
            assert!(line.split(' ').count() <= MAX_WORDS_PER_LINE);
        }
    }

    #[test]
    fn ellipses_numbers_quotes_and_abbreviations() {
        assert_eq!(
            chunks("Wait... what was that noise... it came again"),
            ["Wait... what was that noise...", "it came again"]
        );
        assert_eq!(
            chunks("It costs 3.5 dollars and 2.75 cents today"),
            ["It costs 3.5 dollars", "and 2.75 cents today"]
        );
        assert_eq!(
            chunks("She said \"we are home.\" Then she slept."),
            ["She said \"we are home.\"", "Then she slept."]
        );
        assert_eq!(
            chunks("We met Dr. Smith at the old station."),
            ["We met Dr. Smith", "at the old station."]
        );
        assert_eq!(chunks("Attendez… c’est fini."), ["Attendez… c’est fini."]);
    }

    #[test]
    fn long_words_are_never_split() {
        let word = "Pneumonoultramicroscopicsilicovolcanoconiosis";
        assert_eq!(
            chunks(&format!("{word} {word}")),
            [format!("{word} {word}")]
        );
    }

    #[test]
    fn chunking_keeps_every_word_in_order() {
        let text = "In a hole in the ground there lived a hobbit. Not a nasty, dirty, wet hole, \
                    filled with the ends of worms and an oozy smell, nor yet a dry, bare, sandy \
                    hole with nothing in it to sit down on or to eat: it was a hobbit-hole, and \
                    that means comfort.";
        let lines = chunks(text);
        let rejoined = lines.join(" ");
        let original: Vec<&str> = text.split_whitespace().collect();
        assert_eq!(rejoined.split(' ').collect::<Vec<_>>(), original);
        assert!(lines.iter().all(|l| l.split(' ').count() <= 6));
    }

    #[test]
    fn degenerate_limits_still_make_progress() {
        assert_eq!(chunk_text("a b c", 0, 0), ["a", "b", "c"]);
        assert_eq!(chunk_text("a. b c", 2, 1), ["a.", "b c"]);
    }

    #[test]
    fn cue_times_are_proportional_to_non_space_characters() {
        // "Hello world." has 11 non-space characters, "This is a test of subtitles." 23:
        // 34 in all over 6.8 s starting at 10 s.
        let cues = cues_for_segment("Hello world. This is a test of subtitles.", 10.0, 6.8);
        assert_eq!(
            cues,
            [
                cue(10.0, 10.0 + 6.8 * (11.0 / 34.0), "Hello world."),
                cue(
                    10.0 + 6.8 * (11.0 / 34.0),
                    16.8,
                    "This is a test of subtitles."
                ),
            ]
        );
        assert!((cues[0].end - 12.2).abs() < 1e-12);
    }

    #[test]
    fn cues_are_contiguous_and_end_exactly_at_the_narration_end() {
        let text = "one two three four five six seven eight nine ten eleven twelve thirteen \
                    fourteen fifteen sixteen seventeen eighteen nineteen twenty";
        let (start, narration) = (123.456, 7.891);
        let cues = cues_for_segment(text, start, narration);
        assert!(cues.len() >= 4);
        assert_eq!(cues[0].start, start);
        assert_eq!(cues[cues.len() - 1].end, start + narration);
        for pair in cues.windows(2) {
            assert_eq!(pair[0].end, pair[1].start);
        }
        assert!(cues.iter().all(|c| c.end > c.start));
    }

    #[test]
    fn zero_or_invalid_narration_gives_no_cues() {
        assert!(cues_for_segment("Hello", 0.0, 0.0).is_empty());
        assert!(cues_for_segment("Hello", 0.0, -1.0).is_empty());
        assert!(cues_for_segment("Hello", 0.0, f64::NAN).is_empty());
        assert!(cues_for_segment("Hello", f64::INFINITY, 1.0).is_empty());
    }

    fn two_cues() -> Vec<Cue> {
        vec![
            cue(0.0, 1.2346, "Hello world."),
            cue(1.2346, 3_723.004_6, "A <b> & c"),
        ]
    }

    #[test]
    fn srt_output_is_exact() {
        assert_eq!(
            to_srt(&two_cues()),
            "1\n00:00:00,000 --> 00:00:01,235\nHello world.\n\n\
             2\n00:00:01,235 --> 01:02:03,005\nA <b> & c\n\n"
        );
        assert_eq!(to_srt(&[]), "");
    }

    #[test]
    fn vtt_output_is_exact_and_escaped() {
        assert_eq!(
            to_vtt(&two_cues()),
            "WEBVTT\n\n\
             00:00:00.000 --> 00:00:01.235\nHello world.\n\n\
             00:00:01.235 --> 01:02:03.005\nA &lt;b&gt; &amp; c\n\n"
        );
        assert_eq!(to_vtt(&[]), "WEBVTT\n\n");
    }

    #[test]
    fn rounding_never_makes_cues_overlap() {
        // 1.0004 rounds down to 1000 ms, the previous end 1.0006 up to 1001 ms.
        let cues = [cue(0.0, 1.0006, "a"), cue(1.0004, 1.0005, "b")];
        assert_eq!(
            to_srt(&cues),
            "1\n00:00:00,000 --> 00:00:01,001\na\n\n2\n00:00:01,001 --> 00:00:01,001\nb\n\n"
        );
        // Negative and NaN times clamp to zero.
        assert!(to_srt(&[cue(-1.0, f64::NAN, "x")]).contains("00:00:00,000 --> 00:00:00,000"));
    }

    #[test]
    fn multi_line_text_loses_blank_lines() {
        assert_eq!(
            to_srt(&[cue(0.0, 1.0, "top\n\n bottom ")]),
            "1\n00:00:00,000 --> 00:00:01,000\ntop\nbottom\n\n"
        );
    }

    #[test]
    fn srt_and_vtt_round_trip_at_millisecond_precision() {
        let expected = vec![
            cue(0.0, 1.235, "Hello world."),
            cue(1.235, 3_723.005, "A <b> & c"),
        ];
        assert_eq!(parse_srt(&to_srt(&two_cues())), Ok(expected.clone()));
        assert_eq!(parse_vtt(&to_vtt(&two_cues())), Ok(expected));

        let cues = cues_for_segment("Hello world. This is a test of subtitles & more.", 0.5, 4.0);
        let rounded: Vec<Cue> = cues
            .iter()
            .map(|c| {
                let ms = |t: f64| (t * 1000.0).round() / 1000.0;
                cue(ms(c.start), ms(c.end), &c.text)
            })
            .collect();
        assert_eq!(parse_srt(&to_srt(&cues)), Ok(rounded.clone()));
        assert_eq!(parse_vtt(&to_vtt(&cues)), Ok(rounded));
    }

    #[test]
    fn parsers_accept_crlf_identifiers_and_short_vtt_times() {
        let srt = "1\r\n00:00:01,000 --> 00:00:02,500\r\nTwo\r\nlines\r\n\r\n";
        assert_eq!(parse_srt(srt), Ok(vec![cue(1.0, 2.5, "Two\nlines")]));
        let vtt = "WEBVTT - title\n\nintro\n00:01.000 --> 00:02.000\nHi\n";
        assert_eq!(parse_vtt(vtt), Ok(vec![cue(1.0, 2.0, "Hi")]));
    }

    #[test]
    fn parsers_are_strict() {
        let bad_srt = [
            ("2\n00:00:00,000 --> 00:00:01,000\nx\n", 1),
            ("1\n00:00:00.000 --> 00:00:01,000\nx\n", 2),
            ("1\n00:00:00,000 --> 00:00:01,000\n", 2),
            ("1\n00:00:02,000 --> 00:00:01,000\nx\n", 2),
            ("1\n00:61:00,000 --> 00:62:00,000\nx\n", 2),
            ("1\n0:00:00,000 --> 00:00:01,000\nx\n", 2),
            ("1\n00:00:00,00 --> 00:00:01,000\nx\n", 2),
            ("1\n", 1),
        ];
        for (input, line) in bad_srt {
            assert_eq!(parse_srt(input).map_err(|e| e.line), Err(line), "{input:?}");
        }
        assert_eq!(parse_vtt("").map_err(|e| e.line), Err(1));
        assert_eq!(parse_vtt("WEBVTTX\n").map_err(|e| e.line), Err(1));
        assert_eq!(
            parse_vtt("WEBVTT\n\n00:00:00,000 --> 00:00:01,000\nx\n").map_err(|e| e.line),
            Err(3)
        );
        assert_eq!(parse_vtt("WEBVTT\n\nid only\n").map_err(|e| e.line), Err(3));
    }

    fn spoken(timings: &[(&str, f64, f64)]) -> Vec<SpokenWord> {
        timings
            .iter()
            .map(|&(word, start, end)| SpokenWord {
                word: word.to_string(),
                start,
                end,
            })
            .collect()
    }

    const SPOKEN_TEXT: &str = "Hello there, my friend. How are you today?";
    const TIMINGS: [(&str, f64, f64); 8] = [
        ("Hello", 0.12, 0.48),
        ("there,", 0.5, 0.9),
        ("my", 1.0, 1.1),
        ("friend.", 1.15, 1.6),
        ("How", 2.0, 2.2),
        ("are", 2.25, 2.4),
        ("you", 2.45, 2.6),
        ("today?", 2.65, 3.1),
    ];

    #[test]
    fn timed_cues_follow_the_words_in_the_lines_of_chunk_text() {
        let cues = timed_cues(SPOKEN_TEXT, &spoken(&TIMINGS), 10.0, 3.5).unwrap();
        assert_eq!(
            cues,
            [
                Cue {
                    // From the first word's start to the next line's first word.
                    start: 10.0 + 0.12,
                    end: 10.0 + 2.0,
                    text: "Hello there, my friend.".into(),
                    word_starts: vec![10.0 + 0.12, 10.0 + 0.5, 10.0 + 1.0, 10.0 + 1.15],
                },
                Cue {
                    // The last line ends with its last word.
                    start: 10.0 + 2.0,
                    end: 10.0 + 3.1,
                    text: "How are you today?".into(),
                    word_starts: vec![10.0 + 2.0, 10.0 + 2.25, 10.0 + 2.45, 10.0 + 2.65],
                },
            ]
        );
        let lines: Vec<String> = cues.iter().map(|c| c.text.clone()).collect();
        assert_eq!(lines, chunks(SPOKEN_TEXT));
        // Times past the narration are cut to its end.
        let short = timed_cues(SPOKEN_TEXT, &spoken(&TIMINGS), 0.0, 2.5).unwrap();
        assert_eq!((short[1].end, short[1].word_starts[3]), (2.5, 2.5));
        // Frames at 10 fps: a word starting between frames shows from the next one.
        assert_eq!(cues[0].word_frames(10), [102, 105, 110, 112]);
        assert_eq!(cues[0].frames(10), 102..120);
    }

    #[test]
    fn word_timings_that_do_not_fit_the_text_are_refused() {
        let timings = spoken(&TIMINGS);
        assert_eq!(
            timed_cues(SPOKEN_TEXT, &timings[..7], 0.0, 4.0),
            Err(TimingMismatch::Count { timed: 7, words: 8 })
        );
        let mut renamed = timings.clone();
        renamed[2].word = "our".into();
        assert_eq!(
            timed_cues(SPOKEN_TEXT, &renamed, 0.0, 4.0)
                .unwrap_err()
                .to_string(),
            "word 3 is timed as `our` but the text says `my`"
        );
        for (index, start, end) in [(4, 0.95, 1.6), (2, 0.5, 0.4), (1, -0.1, 0.48)] {
            let mut bad = timings.clone();
            bad[index - 1].start = start;
            bad[index - 1].end = end;
            assert_eq!(
                timed_cues(SPOKEN_TEXT, &bad, 0.0, 4.0),
                Err(TimingMismatch::Times { index }),
                "{index}"
            );
        }
        let mut nan = timings;
        nan[7].end = f64::NAN;
        assert_eq!(
            timed_cues(SPOKEN_TEXT, &nan, 0.0, 4.0),
            Err(TimingMismatch::Times { index: 8 })
        );
        assert_eq!(timed_cues("  ", &[], 0.0, 4.0), Ok(vec![]));
    }

    #[test]
    fn timeline_cues_use_fitting_timings_and_warn_about_the_others() {
        let mut timed = crate::plan::spec::SegmentSpec::new(0, "a.jpg", "a.wav", SPOKEN_TEXT);
        timed.words = Some(spoken(&TIMINGS));
        let mut wrong = crate::plan::spec::SegmentSpec::new(1, "b.jpg", "b.wav", "Two words");
        wrong.words = Some(spoken(&[("Two", 0.1, 0.3)]));
        let spec = RenderSpec::new(vec![timed, wrong]);
        // 4 s and 2 s of narration at 1 kHz, 0.5 s of silence after each.
        let timeline = Timeline::new(10, 1000, 0.5, &[4000, 2000]);
        let (cues, warnings) = timeline_cues(&spec, &timeline);
        assert_eq!(cues.len(), 3);
        assert_eq!(cues[1].word_starts, [2.0, 2.25, 2.45, 2.65]);
        assert_eq!(cues[2], cue(4.5, 6.5, "Two words"));
        assert_eq!(
            warnings,
            [
                "segment 2: the captions do not follow the voice (1 word timings for 2 words of \
              text); they are spread over the narration instead"
            ]
        );
    }

    fn timed_cue() -> Cue {
        Cue {
            start: 1.0,
            end: 2.4,
            text: "Hello there <friend> & co".into(),
            word_starts: vec![1.0, 1.24, 1.61, 1.9, 2.0],
        }
    }

    #[test]
    fn vtt_tags_time_each_word_after_the_first_and_srt_stays_plain() {
        let cues = [timed_cue(), cue(2.4, 3.0, "Plain line")];
        assert_eq!(
            to_vtt(&cues),
            "WEBVTT\n\n\
             00:00:01.000 --> 00:00:02.400\n\
             Hello <00:00:01.240>there <00:00:01.610>&lt;friend&gt; <00:00:01.900>&amp; \
             <00:00:02.000>co\n\n\
             00:00:02.400 --> 00:00:03.000\nPlain line\n\n"
        );
        assert_eq!(
            to_srt(&cues),
            "1\n00:00:01,000 --> 00:00:02,400\nHello there <friend> & co\n\n\
             2\n00:00:02,400 --> 00:00:03,000\nPlain line\n\n"
        );
        // Read back without the tags.
        assert_eq!(
            parse_vtt(&to_vtt(&cues)),
            Ok(vec![
                cue(1.0, 2.4, "Hello there <friend> & co"),
                cue(2.4, 3.0, "Plain line")
            ])
        );
        // A word timed outside its (rounded) cue is tagged at the cue's edge.
        let early = Cue {
            word_starts: vec![1.0, 0.5, 1.61, 1.9, 9.0],
            ..timed_cue()
        };
        let vtt = to_vtt(&[early]);
        assert!(vtt.contains("Hello <00:00:01.000>there"), "{vtt}");
        assert!(vtt.contains("<00:00:02.400>co\n"), "{vtt}");
    }
}
