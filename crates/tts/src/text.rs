//! Text as people write it, made ready for the phonemiser: checked against the length limit,
//! normalised (typographic quotes and dashes, odd Unicode, stray whitespace), and cut into
//! sentences of clauses, each clause with the punctuation that closes it.
//!
//! Why we split ourselves rather than leave it all to espeak-ng: each sentence is one model
//! call (an utterance), so long texts stream sentence by sentence with bounded memory, and
//! Debian's espeak-ng 1.51 drops punctuation from its IPA output, so the clause ends it would
//! have kept are recorded here and put back by [`crate::phonemes`]. espeak-ng still expands
//! numbers, abbreviations and symbols inside each clause.

use unicode_normalization::UnicodeNormalization;

use crate::error::TtsError;
use crate::prosody::SentenceEnd;

/// The most characters one request (one segment's narration) may have.
pub const MAX_TEXT_CHARS: usize = 5000;

/// Sentences longer than this (at speed 1.0 and above; see [`sentence_char_limit`]) are cut
/// at clause, else word, boundaries. The model's working memory grows with the length of one
/// call. Measured with the default voice (process peak RSS, `storyflow tts`): a 390-character
/// sentence peaked at ~500 MB; 250-character pieces at ~430 MB; 125-character pieces at speed
/// 0.5 at ~340 MB. 200 characters (~10 s of speech) keeps the peak under ~400 MB.
pub const MAX_SENTENCE_CHARS: usize = 200;

/// The per-utterance character limit at `speed`: slower speech makes longer audio from the
/// same text, so below 1.0 the limit shrinks with the speed (100 characters at 0.5). Faster
/// speech keeps the 1.0 limit: the model's memory also grows with the phoneme count.
pub fn sentence_char_limit(speed: f32) -> usize {
    ((MAX_SENTENCE_CHARS as f32) * speed.min(1.0))
        .round()
        .max(1.0) as usize
}

/// A piece of a sentence and the punctuation that ends it (`,` `;` `:` `.` `?` `!`), if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    pub text: String,
    pub punctuation: Option<char>,
}

/// One utterance: the clauses spoken in one model call, and what follows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sentence {
    pub clauses: Vec<Clause>,
    pub end: SentenceEnd,
}

impl Sentence {
    /// Characters of text in the clauses (punctuation not counted).
    pub fn char_count(&self) -> usize {
        self.clauses.iter().map(|c| c.text.chars().count()).sum()
    }

    /// The sentence as plain text again, for logs.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for clause in &self.clauses {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&clause.text);
            out.extend(clause.punctuation);
        }
        out
    }
}

/// Checks the text, normalises it and cuts it into sentences of at most `max_chars`
/// characters (see [`sentence_char_limit`]).
///
/// Errors: [`TtsError::EmptyText`] when nothing but whitespace (or invisible characters) is
/// left, [`TtsError::TextTooLong`] above [`MAX_TEXT_CHARS`].
pub fn sentences(text: &str, max_chars: usize) -> Result<Vec<Sentence>, TtsError> {
    let chars = text.trim().chars().count();
    if chars > MAX_TEXT_CHARS {
        return Err(TtsError::TextTooLong {
            chars,
            limit: MAX_TEXT_CHARS,
        });
    }
    let normalized = normalize(text);
    let sentences: Vec<Sentence> = split_sentences(&normalized)
        .into_iter()
        .flat_map(|sentence| split_long(sentence, max_chars))
        .collect();
    if sentences.is_empty() {
        return Err(TtsError::EmptyText);
    }
    Ok(sentences)
}

/// Unicode compatibility forms folded (NFKC: full-width letters, ligatures, `…` → `...`),
/// typographic quotes made ASCII, dashes made clause breaks, invisible and control characters
/// dropped, spaces collapsed, lines trimmed, blank-line runs reduced to one.
pub fn normalize(text: &str) -> String {
    let folded: String = text.nfkc().collect();
    let chars: Vec<char> = folded.chars().collect();
    let mut mapped = String::with_capacity(folded.len());
    for (i, &c) in chars.iter().enumerate() {
        match c {
            '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{00AB}' | '\u{00BB}'
            | '\u{2033}' | '\u{301D}' | '\u{301E}' => mapped.push('"'),
            '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2032}' | '\u{2039}'
            | '\u{203A}' | '`' | '\u{00B4}' => mapped.push('\''),
            '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2212}' => mapped.push('-'),
            // An em dash, or a spaced en dash, is a pause; an en dash between words or
            // numbers ("1990–1995") is a hyphen.
            '\u{2013}' | '\u{2014}' | '\u{2015}' => {
                let spaced = |j: Option<usize>| {
                    j.and_then(|j| chars.get(j))
                        .is_none_or(|ch| ch.is_whitespace())
                };
                if c == '\u{2013}' && !spaced(i.checked_sub(1)) && !spaced(Some(i + 1)) {
                    mapped.push('-');
                } else {
                    mapped.push_str(", ");
                }
            }
            '\u{2022}' | '\u{00B7}' | '\u{25CF}' | '\u{25AA}' => mapped.push(' '),
            '\n' => mapped.push('\n'),
            '\u{2028}' | '\u{2029}' => mapped.push('\n'),
            c if c.is_whitespace() || c.is_control() => mapped.push(' '),
            c if is_invisible(c) => {}
            c => mapped.push(c),
        }
    }
    let mut out = String::with_capacity(mapped.len());
    let mut blank_lines = 0;
    for line in mapped.split('\n') {
        let line = line
            .split(' ')
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>();
        if line.is_empty() {
            blank_lines += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank_lines > 0 { "\n\n" } else { "\n" });
        }
        blank_lines = 0;
        // Dashes made ", " can leave " ," or ", ,": tidy the joins.
        let joined = line.join(" ");
        out.push_str(tidy_commas(&joined).trim());
    }
    out
}

/// Zero-width and formatting characters (soft hyphen, joiners, BOM, bidi marks).
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{FEFF}')
}

/// " ," → ",", ",," → ",", and a comma at the very start of a line dropped.
fn tidy_commas(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for c in line.chars() {
        if c == ',' {
            while out.ends_with(' ') {
                out.pop();
            }
            if out.is_empty() || out.ends_with(',') {
                continue;
            }
            if out.ends_with(['.', '?', '!', ';', ':']) {
                continue;
            }
        }
        out.push(c);
    }
    out
}

const CLOSING: [char; 5] = ['"', '\'', ')', ']', '}'];
const OPENING: [char; 4] = ['"', '\'', '(', '['];

/// Titles and Latin abbreviations whose dot never ends a sentence.
const ABBREVIATIONS: [&str; 28] = [
    "mr", "mrs", "ms", "dr", "prof", "st", "mt", "jr", "sr", "gen", "capt", "lt", "col", "sgt",
    "rev", "hon", "gov", "sen", "rep", "pres", "fr", "vs", "e.g", "i.e", "cf", "approx", "fig",
    "vol",
];

/// Cuts normalised text into sentences: blank lines end paragraphs; a line break ends a
/// sentence unless the line ends in punctuation or the next starts in lower case (a wrapped
/// line); then `.?!` followed by space end sentences (abbreviations and initials excepted) and
/// `,;:` followed by space end clauses.
pub fn split_sentences(normalized: &str) -> Vec<Sentence> {
    let mut sentences = Vec::new();
    let paragraphs: Vec<&str> = normalized.split("\n\n").collect();
    let last_paragraph = paragraphs.len().saturating_sub(1);
    for (p, paragraph) in paragraphs.iter().enumerate() {
        let blocks = join_wrapped_lines(paragraph);
        let last_block = blocks.len().saturating_sub(1);
        for (b, block) in blocks.iter().enumerate() {
            let end = if b == last_block && p != last_paragraph {
                SentenceEnd::Paragraph
            } else {
                SentenceEnd::Stop
            };
            scan_block(block, end, &mut sentences);
        }
    }
    sentences
}

fn join_wrapped_lines(paragraph: &str) -> Vec<String> {
    let mut blocks: Vec<String> = Vec::new();
    for line in paragraph.split('\n').filter(|l| !l.trim().is_empty()) {
        let Some(block) = blocks.last_mut() else {
            blocks.push(line.to_owned());
            continue;
        };
        let ends_in_punctuation = block
            .trim_end_matches(CLOSING)
            .ends_with(['.', '?', '!', ',', ';', ':']);
        let starts_lower = line
            .trim_start_matches(OPENING)
            .chars()
            .next()
            .is_some_and(char::is_lowercase);
        if ends_in_punctuation || starts_lower {
            block.push(' ');
            block.push_str(line);
        } else {
            blocks.push(line.to_owned());
        }
    }
    blocks
}

/// One block of text without hard breaks → sentences; the last one ends with `end`.
fn scan_block(block: &str, end: SentenceEnd, sentences: &mut Vec<Sentence>) {
    let before = sentences.len();
    let chars: Vec<char> = block.chars().collect();
    let n = chars.len();
    let mut clauses: Vec<Clause> = Vec::new();
    let mut current = String::new();
    let mut i = 0;
    while i < n {
        let c = chars[i];
        if matches!(c, '.' | '?' | '!') {
            let mut j = i;
            while j < n && matches!(chars[j], '.' | '?' | '!') {
                j += 1;
            }
            let mut k = j;
            while k < n && CLOSING.contains(&chars[k]) {
                k += 1;
            }
            let at_end = k == n;
            if !at_end && chars[k] != ' ' {
                // "3.50", "a.m.", "U.S.A", "?!x": inside a token.
                current.extend(&chars[i..j]);
                i = j;
                continue;
            }
            let next = next_word_start(&chars, k);
            let run = &chars[i..j];
            if !at_end && run == ['.'] && is_abbreviation(last_word(&current), next) {
                current.extend(&chars[i..k]);
                i = k;
                continue;
            }
            let sentence_end = at_end || !next.is_some_and(char::is_lowercase);
            let punctuation = if run.contains(&'?') {
                '?'
            } else if run.contains(&'!') {
                '!'
            } else if run.len() > 1 && !sentence_end {
                ',' // "Wait... what": a trailing-off pause, not a full stop
            } else {
                '.'
            };
            push_clause(&mut clauses, &current, Some(punctuation));
            current.clear();
            if sentence_end && !clauses.is_empty() {
                sentences.push(Sentence {
                    clauses: std::mem::take(&mut clauses),
                    end: SentenceEnd::Stop,
                });
            }
            i = k;
        } else if matches!(c, ',' | ';' | ':') {
            let mut k = i + 1;
            while k < n && CLOSING.contains(&chars[k]) {
                k += 1;
            }
            if k == n || chars[k] == ' ' {
                push_clause(&mut clauses, &current, Some(c));
                current.clear();
                i = k;
            } else {
                // "1,000", "10:30"
                current.push(c);
                i += 1;
            }
        } else {
            current.push(c);
            i += 1;
        }
    }
    push_clause(&mut clauses, &current, None);
    if let Some(last) = clauses.last_mut() {
        if !matches!(last.punctuation, Some('.' | '?' | '!')) {
            last.punctuation = Some('.');
        }
    }
    if !clauses.is_empty() {
        sentences.push(Sentence {
            clauses,
            end: SentenceEnd::Stop,
        });
    }
    if sentences.len() > before {
        if let Some(last) = sentences.last_mut() {
            last.end = end;
        }
    }
}

/// Adds a clause unless it has nothing to say (only quotes, brackets, dashes or spaces).
/// Punctuation of an empty clause moves to the previous one if it is stronger (`!` `?`).
fn push_clause(clauses: &mut Vec<Clause>, text: &str, punctuation: Option<char>) {
    let text = text.trim();
    if text.chars().any(char::is_alphanumeric) {
        clauses.push(Clause {
            text: text.to_owned(),
            punctuation,
        });
    } else if let (Some(previous), Some(p @ ('?' | '!'))) = (clauses.last_mut(), punctuation) {
        previous.punctuation = Some(p);
    }
}

/// The last word of the text so far, without opening quotes or brackets.
fn last_word(text: &str) -> &str {
    let word = text.rsplit(' ').next().unwrap_or_default();
    word.trim_start_matches(OPENING)
}

/// The first character of the next word after position `k`, skipping spaces and openers.
fn next_word_start(chars: &[char], k: usize) -> Option<char> {
    chars
        .get(k..)?
        .iter()
        .copied()
        .find(|c| *c != ' ' && !OPENING.contains(c))
}

/// Whether a `.` after `word`, followed by a word starting with `next`, is an abbreviation's
/// dot rather than a full stop.
fn is_abbreviation(word: &str, next: Option<char>) -> bool {
    let lower = word.to_lowercase();
    if lower.is_empty() {
        return false;
    }
    if ABBREVIATIONS.contains(&lower.as_str()) {
        return true;
    }
    if lower == "no" || lower == "nos" {
        // "No. 5", but "I said no."
        return next.is_some_and(|c| c.is_ascii_digit());
    }
    let mut letters = lower.chars();
    if let (Some(first), None) = (letters.next(), letters.next()) {
        // An initial ("J. K. Rowling").
        return first.is_alphabetic();
    }
    // "a.m.", "U.S.": a sentence ends there only if a capital follows.
    lower.contains('.') && !next.is_some_and(char::is_uppercase)
}

/// Cuts a sentence above `max_chars` into several: at clause ends where possible,
/// at word ends inside a clause that is itself too long. All but the last piece end in
/// [`SentenceEnd::Split`].
pub fn split_long(sentence: Sentence, max_chars: usize) -> Vec<Sentence> {
    let max_chars = max_chars.max(1);
    if sentence.char_count() <= max_chars {
        return vec![sentence];
    }
    let mut pieces = Vec::new();
    let mut current: Vec<Clause> = Vec::new();
    let mut current_chars = 0;
    for clause in sentence
        .clauses
        .into_iter()
        .flat_map(|clause| split_clause(clause, max_chars))
    {
        let chars = clause.text.chars().count();
        if current_chars + chars > max_chars && !current.is_empty() {
            pieces.push(Sentence {
                clauses: std::mem::take(&mut current),
                end: SentenceEnd::Split,
            });
            current_chars = 0;
        }
        current_chars += chars;
        current.push(clause);
    }
    if !current.is_empty() {
        pieces.push(Sentence {
            clauses: current,
            end: sentence.end,
        });
    }
    pieces
}

/// A clause above `max_chars` cut at the last space before the limit (or at the limit, for a
/// "word" longer than that); the last piece keeps the clause's punctuation.
fn split_clause(clause: Clause, max_chars: usize) -> Vec<Clause> {
    let mut pieces = Vec::new();
    let mut rest: &str = &clause.text;
    while rest.chars().count() > max_chars {
        let limit = rest
            .char_indices()
            .nth(max_chars)
            .map_or(rest.len(), |(at, _)| at);
        let cut = rest[..limit]
            .rfind(' ')
            .filter(|&at| at > 0)
            .unwrap_or(limit);
        pieces.push(Clause {
            text: rest[..cut].trim().to_owned(),
            punctuation: None,
        });
        rest = rest[cut..].trim_start();
    }
    if !rest.is_empty() {
        pieces.push(Clause {
            text: rest.to_owned(),
            punctuation: clause.punctuation,
        });
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sentences as "clause|p clause|p ... /end" strings.
    fn show(text: &str) -> Vec<String> {
        split_sentences(&normalize(text))
            .iter()
            .map(|s| {
                let clauses: Vec<String> = s
                    .clauses
                    .iter()
                    .map(|c| format!("{}|{}", c.text, c.punctuation.unwrap_or('_')))
                    .collect();
                let end = match s.end {
                    SentenceEnd::Stop => "stop",
                    SentenceEnd::Paragraph => "para",
                    SentenceEnd::Split => "split",
                };
                format!("{} /{end}", clauses.join(" "))
            })
            .collect()
    }

    #[test]
    fn sentences_and_clauses_keep_their_punctuation() {
        assert_eq!(
            show("One winter, in 1987, a storm broke the lens. Really? Yes!"),
            [
                "One winter|, in 1987|, a storm broke the lens|. /stop",
                "Really|? /stop",
                "Yes|! /stop",
            ]
        );
        assert_eq!(
            show("First: the plan; then the act"),
            ["First|: the plan|; then the act|. /stop"]
        );
    }

    #[test]
    fn numbers_times_and_abbreviations_do_not_split() {
        assert_eq!(
            show("Dr. Smith paid $3.50 at 10:30 a.m. for 1,000 items, e.g. Apples. No. 5 won."),
            [
                "Dr. Smith paid $3.50 at 10:30 a.m. for 1,000 items|, e.g. Apples|. /stop",
                "No. 5 won|. /stop",
            ]
        );
        assert_eq!(
            show("I met J. K. Rowling. She said no. Then she left at 9 p.m. The end."),
            [
                "I met J. K. Rowling|. /stop",
                "She said no|. /stop",
                "Then she left at 9 p.m|. /stop",
                "The end|. /stop",
            ]
        );
        assert_eq!(show("The U.S. is big."), ["The U.S. is big|. /stop"]);
    }

    #[test]
    fn quotes_close_sentences_and_exclamations_inside_them_are_clauses() {
        assert_eq!(
            show("\u{201C}Hello,\u{201D} she said. He shouted \u{201C}Stop!\u{201D} and ran."),
            [
                "\"Hello|, she said|. /stop",
                "He shouted \"Stop|! and ran|. /stop",
            ]
        );
        assert_eq!(
            show("\"Where?\" \"Here.\""),
            ["\"Where|? /stop", "\"Here|. /stop"]
        );
    }

    #[test]
    fn ellipses_dashes_and_lines() {
        assert_eq!(
            show("Wait\u{2026} what? It was 1990\u{2013}1995 \u{2014} long ago"),
            ["Wait|, what|? /stop", "It was 1990-1995|, long ago|. /stop"]
        );
        assert_eq!(
            show("Chapter One\nIt was dark and\nstormy.\n\n\n  Next   part.  "),
            [
                "Chapter One|. /stop",
                "It was dark and stormy|. /para",
                "Next part|. /stop",
            ]
        );
    }

    #[test]
    fn normalisation_folds_odd_unicode_and_whitespace() {
        assert_eq!(
            normalize(
                "  \u{FF28}ello\u{00A0}\u{00A0}wo\u{00AD}rld\u{200B}\u{2019}s\t\u{FB01}ne\r\n"
            ),
            "Hello world's fine"
        );
        assert_eq!(normalize("a \u{2014} b"), "a, b");
        assert_eq!(normalize("\u{2014} b"), "b");
        assert_eq!(normalize("one\n\n\n\ntwo\nthree"), "one\n\ntwo\nthree");
    }

    #[test]
    fn empty_and_over_long_text_are_refused() {
        let sentences = |text: &str| sentences(text, MAX_SENTENCE_CHARS);
        assert!(matches!(sentences(""), Err(TtsError::EmptyText)));
        assert!(matches!(sentences(" \n\t "), Err(TtsError::EmptyText)));
        assert!(matches!(
            sentences("\u{200B}\u{FEFF}"),
            Err(TtsError::EmptyText)
        ));
        assert!(matches!(sentences("... ,,, !?"), Err(TtsError::EmptyText)));
        let long = "a".repeat(MAX_TEXT_CHARS + 1);
        assert!(matches!(
            sentences(&long),
            Err(TtsError::TextTooLong {
                chars: 5001,
                limit: 5000
            })
        ));
        let at_limit = "a".repeat(MAX_TEXT_CHARS);
        assert_eq!(sentences(&at_limit).map(|s| s.len()).ok(), Some(25));
    }

    #[test]
    fn long_sentences_are_cut_at_clauses_then_words() {
        let sentences = |text: &str| sentences(text, 400);
        let clause = "word ".repeat(50).trim_end().to_owned(); // 249 chars
        let text = format!("{clause}, {clause}, {clause}.");
        let pieces = sentences(&text).unwrap_or_default();
        assert_eq!(pieces.len(), 3);
        assert_eq!(pieces[0].end, SentenceEnd::Split);
        assert_eq!(pieces[0].clauses[0].punctuation, Some(','));
        assert_eq!(pieces[2].end, SentenceEnd::Stop);
        assert_eq!(pieces[2].clauses[0].punctuation, Some('.'));

        let run_on = "word ".repeat(200); // 999 chars, no punctuation
        let pieces = sentences(&run_on).unwrap_or_default();
        let counts: Vec<usize> = pieces.iter().map(Sentence::char_count).collect();
        assert_eq!(counts, [399, 399, 199]);
        assert_eq!(pieces[0].clauses[0].punctuation, None);
        assert_eq!(pieces[2].clauses[0].punctuation, Some('.'));

        let no_spaces = "x".repeat(900);
        let counts: Vec<usize> = sentences(&no_spaces)
            .unwrap_or_default()
            .iter()
            .map(Sentence::char_count)
            .collect();
        assert_eq!(counts, [400, 400, 100]);
    }

    #[test]
    fn slower_speech_gets_shorter_sentences() {
        assert_eq!(sentence_char_limit(1.0), 200);
        assert_eq!(sentence_char_limit(0.5), 100);
        assert_eq!(sentence_char_limit(0.75), 150);
        assert_eq!(sentence_char_limit(2.0), 200);
        let text = "word ".repeat(60); // 299 characters
        assert_eq!(
            sentences(&text, sentence_char_limit(1.0))
                .map(|s| s.len())
                .ok(),
            Some(2)
        );
        assert_eq!(
            sentences(&text, sentence_char_limit(2.0))
                .map(|s| s.len())
                .ok(),
            Some(2)
        );
        assert_eq!(
            sentences(&text, sentence_char_limit(0.5))
                .map(|s| s.len())
                .ok(),
            Some(3)
        );
    }

    #[test]
    fn sentence_text_round_trip_for_logs() {
        let s = &sentences("Hi, you. ", MAX_SENTENCE_CHARS).unwrap_or_default()[0];
        assert_eq!(s.to_text(), "Hi, you.");
        assert_eq!(s.char_count(), 5);
    }
}
