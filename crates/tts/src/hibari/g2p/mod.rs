//! Text -> misaki-style English phonemes for the hibari voice, without spaCy or espeak-ng
//! (hibari-tts 0.2.1 `g2p/__init__.py`, Apache-2.0; itself misaki 0.9.4's en.py, Apache-2.0).
//!
//! Pipeline: normalise -> tokenize (spaCy rules) -> tag (perceptron) -> lexicon with
//! part-of-speech and context rules -> OOV net for unknown words -> stress resolution.
//! American English only. Beyond hibari, every phoneme keeps the byte offset of the text token
//! it came from ([`Phonemes::sources`]), through normalisation, sub-tokens and merges.

mod assets;
mod lexicon;
mod normalize;
mod numbers;
mod oov;
mod pystr;
mod tagger;
mod token;
mod tokenize;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use fancy_regex::Regex;

use crate::error::TtsError;
use lexicon::{apply_stress, stress_weight, Lexicon, CONSONANTS, PRIMARY_STRESS, VOWELS};
use normalize::{Mapped, Normalizer, Tables};
use oov::Oov;
use tagger::Tagger;
use token::{merge_tokens, Tok};
use tokenize::Tokenizer;

const SUBTOKEN: &str = r"^['‘’]+|[A-ZÀ-ÖØ-Þ](?=[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ])|(?:^-)?(?:\d?[,.]?\d)+|[-_]+|['‘’]{2,}|[^\W\d_]*?(?:['‘’][^\W\d_])*?[a-zß-öø-ÿ](?=[A-ZÀ-ÖØ-Þ])|[^\W\d_]+(?:['‘’][^\W\d_])*|[^\w\-'‘’]|['‘’]+$";
const LINK: &str = r"\[([^\]]+)\]\(([^\)]*)\)";
const FALLBACK_PIECE: &str = r"[^\W\d_]+(?:['’][^\W\d_]+)*|\d+(?:[,.]\d+)*|[^\w\s]+";
const SUBTOKEN_JUNKS: &str = "',-._‘’/";
const PUNCTS: &str = ";:,.!?—…\"“”";
const NON_QUOTE_PUNCTS: &str = ";:,.!?—…";
const PUNCT_TAGS: [&str; 11] = [
    ".", ",", "-LRB-", "-RRB-", "``", "\"\"", "''", ":", "$", "#", "NFP",
];

/// What espeak said for symbols in the reference pipeline.
fn symbol_phonemes(c: char) -> &'static str {
    match c {
        '/' => "slˈæʃ",
        '=' => "ˈikwᵊlz",
        '+' => "plˈʌs",
        '&' => "ænd",
        '@' => "æt",
        '%' => "pəɹsˈɛnt",
        '#' => "hˈæʃ",
        '*' => "ˈæstəɹˌɪsk",
        '~' => "tˈɪldə",
        '^' => "kˈɛɹət",
        '<' => "lˈɛs ðən",
        '>' => "ɡɹˈATəɹ ðən",
        '—' => "—",
        _ => "",
    }
}

fn punct_tag_phonemes(tag: &str) -> Option<&'static str> {
    match tag {
        "-LRB-" => Some("("),
        "-RRB-" => Some(")"),
        "``" => Some("“"),
        "\"\"" | "''" => Some("”"),
        _ => None,
    }
}

/// Compiles one of the port's fixed patterns; a failure is the port's bug, reported as text.
pub(crate) fn build(pattern: &str) -> Result<Regex, String> {
    Regex::new(pattern).map_err(|e| format!("pattern {pattern:?}: {e}"))
}

/// The first match as byte range (a pattern that gives up counts as no match).
pub(crate) fn first_match(re: &Regex, text: &str) -> Option<(usize, usize)> {
    re.find(text).ok().flatten().map(|m| (m.start(), m.end()))
}

/// What the words after the current one start with, for the function-word rules ("the" before
/// a vowel, "to" before a vowel).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Context {
    /// Whether the next word starts with a vowel sound; `None` when unknown or at punctuation.
    pub future_vowel: Option<bool>,
    pub future_to: bool,
}

/// A phoneme string with, for each of its characters, where in the input sentence it came
/// from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Phonemes {
    /// The phonemes, in the hibari model's alphabet.
    pub text: String,
    /// One entry per `char` of `text`: the byte offset in the input sentence (before
    /// normalisation) of the first character of the text token that produced that phoneme.
    /// A token that expands into several words ("1987", "$9.99", "3:30") maps all of its
    /// phonemes to that one offset; a punctuation token maps to its own character. `None` for
    /// the spaces that join tokens.
    pub sources: Vec<Option<usize>>,
}

/// A token group between spaces: one token, or pieces written together ("COVID-19").
#[derive(Debug)]
enum Word {
    One(Tok),
    Pieces(Vec<Tok>),
}

/// The G2P of the hibari voice, loaded once and shared (`Send + Sync`).
#[derive(Debug)]
pub struct G2p {
    normalizer: Normalizer,
    titles: HashSet<String>,
    tokenizer: Tokenizer,
    tagger: Tagger,
    lexicon: Lexicon,
    oov: Oov,
    subtoken: Regex,
    link: Regex,
    fallback_piece: Regex,
}

impl G2p {
    /// Loads the G2P on its own (tests, tools): ONNX Runtime from `runtime_library` (or the one
    /// this process already loaded: there is one per process), then [`G2p::load`].
    pub fn open(dir: &Path, runtime_library: &Path) -> Result<G2p, TtsError> {
        Self::load(dir, &crate::model::environment(runtime_library)?)
    }

    /// Loads lexicons, tagger, tables and the OOV model from the hibari folder
    /// ([`crate::TtsHome::hibari_dir`]). A missing or damaged file is an error naming it.
    pub fn load(dir: &Path, environment: &ort::environment::Environment) -> Result<G2p, TtsError> {
        let bad = |name: &str, reason: String| TtsError::HibariAsset {
            path: dir.join(name),
            reason,
        };
        let tables: Tables = assets::read_json(dir, "normalize.json")?;
        let normalizer = Normalizer::new(&tables).map_err(|e| bad("normalize.json", e))?;
        let titles = tables.title_names().map(str::to_string).collect();
        let exceptions: HashMap<String, Vec<String>> =
            assets::read_json(dir, "tokenizer_exceptions.json")?;
        let tokenizer =
            Tokenizer::new(exceptions).map_err(|e| bad("tokenizer_exceptions.json", e))?;
        let tagger = Tagger::new(assets::read_json(dir, "tagger.json.gz")?);
        let lexicon = Lexicon::new(
            assets::read_json(dir, "lexicon_us_gold.json.gz")?,
            assets::read_json(dir, "lexicon_us_silver.json.gz")?,
        );
        let oov = Oov::load(
            environment,
            &dir.join("oov.onnx"),
            assets::read_json(dir, "oov.json")?,
        )?;
        let pattern = |p: &str| {
            build(p).map_err(|e| TtsError::HibariAsset {
                path: dir.to_path_buf(),
                reason: e,
            })
        };
        Ok(G2p {
            normalizer,
            titles,
            tokenizer,
            tagger,
            lexicon,
            oov,
            subtoken: pattern(SUBTOKEN)?,
            link: pattern(LINK)?,
            fallback_piece: pattern(FALLBACK_PIECE)?,
        })
    }

    /// The titles ("Dr", "Mr", "St") after which a period does not end a sentence, for
    /// [`crate::hibari::sentences::split_sentences`].
    pub fn titles(&self) -> &HashSet<String> {
        &self.titles
    }

    /// One sentence -> the model's phoneme alphabet, exactly what Python's `G2P()(sentence)`
    /// returns, with each phoneme's source in `sentence`.
    pub fn phonemize(&self, sentence: &str) -> Result<Phonemes, TtsError> {
        let normal = self.normalizer.normalize(sentence);
        let tokens = self.phonemize_tokens(self.tokenize(&normal.text))?;
        Ok(join(&tokens, &normal))
    }

    /// Tokens with tags. `[text](/phonemes/)` sets a token's phonemes directly.
    fn tokenize(&self, text: &str) -> Vec<Tok> {
        let mut toks = Vec::new();
        let mut pos = 0;
        for caps in self.link.captures_iter(text).filter_map(Result::ok) {
            let (Some(m), Some(label), Some(target)) = (caps.get(0), caps.get(1), caps.get(2))
            else {
                continue;
            };
            toks.extend(self.tokens(&text[pos..m.start()], pos));
            let f = target.as_str();
            let phonemes = (f.chars().count() > 1 && f.starts_with('/') && f.ends_with('/'))
                .then(|| f[1..].trim_end_matches('/').to_string());
            let ws = if text[m.end()..].starts_with(char::is_whitespace) {
                " "
            } else {
                ""
            };
            let mut tok = Tok::new(label.as_str(), "NN", ws, label.start());
            tok.phonemes = phonemes;
            toks.push(tok);
            pos = m.end();
        }
        toks.extend(self.tokens(&text[pos..], pos));
        toks
    }

    fn tokens(&self, text: &str, offset: usize) -> Vec<Tok> {
        let pairs = self.tokenizer.tokenize(text);
        if pairs.is_empty() {
            return Vec::new();
        }
        let words: Vec<&str> = pairs.iter().map(|(t, _, _)| t.as_str()).collect();
        let tags = self.tagger.tag(&words);
        pairs
            .iter()
            .zip(tags)
            .map(|((t, ws, at), tag)| Tok::new(t, &tag, ws, offset + at))
            .collect()
    }

    /// Splits tokens into sub-tokens ("COVID-19" -> "COVID" "-" "19"), grouping those written
    /// together, and settles punctuation, currency symbols and "2" as "to".
    fn retokenize(&self, tokens: Vec<Tok>) -> Vec<Word> {
        let mut words: Vec<Word> = Vec::new();
        let mut currency: Option<String> = None;
        let next_tags: Vec<Option<String>> = tokens
            .iter()
            .skip(1)
            .map(|t| Some(t.tag.clone()))
            .chain([None])
            .collect();
        // Where the last currency symbol was: (token index, offset). An amount right after
        // its symbol ("$9.99") is traced to the symbol, the start of what was written.
        let mut symbol_at: Option<(usize, usize)> = None;
        for (i, (token, next_tag)) in tokens.into_iter().zip(next_tags).enumerate() {
            let mut tks: Vec<Tok> = if token.alias.is_none() && token.phonemes.is_none() {
                self.subtoken
                    .find_iter(&token.text)
                    .filter_map(Result::ok)
                    .map(|m| Tok {
                        text: m.as_str().to_string(),
                        whitespace: String::new(),
                        is_head: true,
                        prespace: false,
                        at: token.at + m.start(),
                        ..token.clone()
                    })
                    .collect()
            } else {
                vec![token.clone()]
            };
            let Some(last) = tks.last_mut() else { continue };
            last.whitespace = token.whitespace.clone();
            let n = tks.len();
            for j in 0..n {
                let neighbours_alpha = 0 < j && j + 1 < n && {
                    let before = tks[j - 1].text.chars().last();
                    let after = tks[j + 1].text.chars().next();
                    before
                        .zip(after)
                        .is_some_and(|(a, b)| pystr::is_alpha_char(a) && pystr::is_alpha_char(b))
                };
                let tk = &mut tks[j];
                if tk.alias.is_some() || tk.phonemes.is_some() {
                    // Already settled (a link's phonemes).
                } else if tk.tag == "$" && lexicon::currency_units(&tk.text).is_some() {
                    currency = Some(tk.text.clone());
                    symbol_at = Some((i, tk.at));
                    tk.phonemes = Some(String::new());
                } else if tk.tag == ":" && (tk.text == "-" || tk.text == "–") {
                    tk.phonemes = Some("—".to_string());
                } else if PUNCT_TAGS.contains(&tk.tag.as_str())
                    && !tk.text.chars().all(|c| {
                        c.to_lowercase()
                            .next()
                            .is_some_and(|l| l.is_ascii_lowercase())
                    })
                {
                    tk.phonemes = Some(match punct_tag_phonemes(&tk.tag) {
                        Some(p) => p.to_string(),
                        None => tk.text.chars().filter(|&c| PUNCTS.contains(c)).collect(),
                    });
                } else if let Some(symbol) = currency.clone() {
                    if tk.tag != "CD" {
                        currency = None;
                    } else if j + 1 == n && next_tag.as_deref() != Some("CD") {
                        tk.currency = Some(symbol);
                        if let Some((_, at)) = symbol_at.filter(|&(k, _)| k + 1 == i && j == 0) {
                            tk.at = at;
                        }
                    }
                } else if neighbours_alpha && tk.text == "2" {
                    tk.alias = Some("to".to_string());
                }
            }
            for mut tk in tks {
                if tk.alias.is_some() || tk.phonemes.is_some() {
                    words.push(Word::One(tk));
                } else if let Some(Word::Pieces(pieces)) = words.last_mut().filter(|w| {
                    matches!(w, Word::Pieces(p) if p.last().is_some_and(|t| t.whitespace.is_empty()))
                }) {
                    tk.is_head = false;
                    pieces.push(tk);
                } else if tk.whitespace.is_empty() {
                    words.push(Word::Pieces(vec![tk]));
                } else {
                    words.push(Word::One(tk));
                }
            }
        }
        words
            .into_iter()
            .map(|w| match w {
                Word::Pieces(mut p) if p.len() == 1 => Word::One(p.remove(0)),
                w => w,
            })
            .collect()
    }

    fn token_context(ctx: Context, ps: Option<&str>, token: &Tok) -> Context {
        let mut vowel = ctx.future_vowel;
        if let Some(ps) = ps.filter(|p| !p.is_empty()) {
            let first = ps.chars().find(|&c| {
                VOWELS.contains(c) || CONSONANTS.contains(c) || NON_QUOTE_PUNCTS.contains(c)
            });
            if let Some(c) = first {
                vowel = if NON_QUOTE_PUNCTS.contains(c) {
                    None
                } else {
                    Some(VOWELS.contains(c))
                };
            }
        }
        let future_to = matches!(token.text.as_str(), "to" | "To")
            || (token.text == "TO" && matches!(token.tag.as_str(), "TO" | "IN"));
        Context {
            future_vowel: vowel,
            future_to,
        }
    }

    /// Stress among pieces read separately, and their spacing.
    fn resolve_tokens(tokens: &mut [Tok]) {
        let mut text = String::new();
        for tk in &tokens[..tokens.len() - 1] {
            text.push_str(&tk.text);
            text.push_str(&tk.whitespace);
        }
        text.push_str(&tokens[tokens.len() - 1].text);
        let kinds: HashSet<u8> = text
            .chars()
            .filter(|&c| !SUBTOKEN_JUNKS.contains(c))
            .map(|c| {
                if pystr::is_alpha_char(c) {
                    0
                } else if c.is_ascii_digit() {
                    1
                } else {
                    2
                }
            })
            .collect();
        let prespace = text.contains(' ') || text.contains('/') || kinds.len() > 1;
        let last = tokens.len() - 1;
        for (i, tk) in tokens.iter_mut().enumerate() {
            if tk.phonemes.is_none() {
                if i == last
                    && tk.text.chars().count() == 1
                    && NON_QUOTE_PUNCTS.contains(tk.text.as_str())
                {
                    tk.phonemes = Some(tk.text.clone());
                } else if tk.text.chars().all(|c| SUBTOKEN_JUNKS.contains(c)) {
                    tk.phonemes = Some(String::new());
                }
            } else if i > 0 {
                tk.prespace = prespace;
            }
        }
        if prespace {
            return;
        }
        let mut indices: Vec<(bool, usize, usize)> = tokens
            .iter()
            .enumerate()
            .filter_map(|(i, tk)| {
                let ps = tk.phonemes.as_deref().filter(|p| !p.is_empty())?;
                Some((ps.contains(PRIMARY_STRESS), stress_weight(ps), i))
            })
            .collect();
        let lower = |tk: &mut Tok| {
            if let Some(ps) = &tk.phonemes {
                tk.phonemes = Some(apply_stress(ps, Some(-0.5)));
            }
        };
        if indices.len() == 2 && tokens[indices[0].2].text.chars().count() == 1 {
            lower(&mut tokens[indices[1].2]);
            return;
        }
        let primaries = indices.iter().filter(|(b, _, _)| *b).count();
        if indices.len() < 2 || primaries <= indices.len().div_ceil(2) {
            return;
        }
        indices.sort();
        for &(_, _, i) in &indices[..indices.len() / 2] {
            lower(&mut tokens[i]);
        }
    }

    /// An unknown word: letters go to the OOV net, digit runs to the number reader, symbols
    /// to a small table.
    fn fallback(&self, tk: &Tok) -> Result<String, TtsError> {
        let mut out = Vec::new();
        for m in self
            .fallback_piece
            .find_iter(&tk.text)
            .filter_map(Result::ok)
        {
            let piece = m.as_str();
            let first = piece.chars().next().unwrap_or(' ');
            let ps = if pystr::is_digit_char(first) {
                self.lexicon.get_number(piece, None, false)
            } else if pystr::is_alpha_char(first) {
                self.oov.read(piece)?
            } else {
                Some(piece.chars().map(symbol_phonemes).collect())
            };
            if let Some(ps) = ps.filter(|p| !p.is_empty()) {
                out.push(ps);
            }
        }
        Ok(out.join(" "))
    }

    /// Fills in every token's phonemes, last word first (the rules look ahead).
    fn phonemize_tokens(&self, tokens: Vec<Tok>) -> Result<Vec<Tok>, TtsError> {
        let mut words = self.retokenize(tokens);
        let mut ctx = Context::default();
        for w in words.iter_mut().rev() {
            let w = match w {
                Word::One(tk) => {
                    if tk.phonemes.is_none() {
                        tk.phonemes = self.lexicon.read(tk, &ctx);
                    }
                    if tk.phonemes.is_none() {
                        tk.phonemes = Some(self.fallback(tk)?);
                    }
                    ctx = Self::token_context(ctx, tk.phonemes.as_deref(), tk);
                    continue;
                }
                Word::Pieces(w) => w,
            };
            let (mut left, mut right) = (0, w.len());
            let mut should_fallback = false;
            while left < right {
                let candidate = if w[left..right]
                    .iter()
                    .any(|tk| tk.alias.is_some() || tk.phonemes.is_some())
                {
                    None
                } else {
                    Some(merge_tokens(&w[left..right], None))
                };
                let ps = candidate
                    .as_ref()
                    .and_then(|tk| self.lexicon.read(tk, &ctx));
                if let (Some(ps), Some(tk)) = (ps, &candidate) {
                    ctx = Self::token_context(ctx, Some(&ps), tk);
                    w[left].phonemes = Some(ps);
                    for x in &mut w[left + 1..right] {
                        x.phonemes = Some(String::new());
                    }
                    right = left;
                    left = 0;
                } else if left + 1 < right {
                    left += 1;
                } else {
                    right -= 1;
                    let tk = &mut w[right];
                    if tk.phonemes.is_none() {
                        if tk.text.chars().all(|c| SUBTOKEN_JUNKS.contains(c)) {
                            tk.phonemes = Some(String::new());
                        } else {
                            should_fallback = true;
                            break;
                        }
                    }
                    left = 0;
                }
            }
            if should_fallback {
                let merged = merge_tokens(w, None);
                w[0].phonemes = Some(self.fallback(&merged)?);
                for x in &mut w[1..] {
                    x.phonemes = Some(String::new());
                }
            } else {
                Self::resolve_tokens(w);
            }
        }
        Ok(words
            .into_iter()
            .map(|w| {
                let mut tk = match w {
                    Word::One(tk) => tk,
                    Word::Pieces(pieces) => merge_tokens(&pieces, Some("")),
                };
                tk.phonemes = tk.phonemes.map(|p| p.replace('ɾ', "T").replace('ʔ', "t"));
                tk
            })
            .collect())
    }
}

/// hibari's join: each token's phonemes, a space where the text had one, stripped; each
/// phoneme traced to its token's first character in the input.
fn join(tokens: &[Tok], normal: &Mapped) -> Phonemes {
    let mut chars: Vec<(char, Option<usize>)> = Vec::new();
    for tk in tokens {
        let source = normal.origins.get(tk.at).copied();
        chars.extend(
            tk.phonemes
                .as_deref()
                .unwrap_or_default()
                .chars()
                .map(|c| (c, source)),
        );
        if !tk.whitespace.is_empty() {
            chars.push((' ', None));
        }
    }
    let start = chars
        .iter()
        .position(|(c, _)| !c.is_whitespace())
        .unwrap_or(chars.len());
    let end = chars
        .iter()
        .rposition(|(c, _)| !c.is_whitespace())
        .map_or(start, |i| i + 1);
    let kept = &chars[start..end.max(start)];
    Phonemes {
        text: kept.iter().map(|(c, _)| c).collect(),
        sources: kept.iter().map(|(_, s)| *s).collect(),
    }
}
