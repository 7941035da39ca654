//! The hibari G2P port against Python hibari-tts 0.2.1: every sentence of the fixture
//! (written by scripts/fixtures/hibari_g2p_reference.py) must give exactly Python's phonemes,
//! and the sentence splitting and clause chunking of its texts must match too. Needs the
//! installed TTS home (scripts/setup.sh).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::OnceLock;

use serde::Deserialize;
use tts::hibari::g2p::G2p;
use tts::hibari::sentences::{chunk, split_sentences};
use tts::{TtsError, TtsHome};

#[derive(Deserialize)]
struct Fixture {
    g2p: Vec<(String, String)>,
    texts: Vec<TextCase>,
}

#[derive(Deserialize)]
struct TextCase {
    text: String,
    sentences: Vec<String>,
    chunks: Vec<String>,
}

fn fixture() -> Fixture {
    serde_json::from_str(include_str!("../fixtures/hibari_g2p.json")).unwrap()
}

fn runtime_library() -> PathBuf {
    TtsHome::from_env().expect("a TTS home").runtime_library()
}

fn hibari_dir() -> PathBuf {
    TtsHome::from_env().expect("a TTS home").hibari_dir()
}

fn g2p() -> &'static G2p {
    static G2P: OnceLock<G2p> = OnceLock::new();
    G2P.get_or_init(|| G2p::open(&hibari_dir(), &runtime_library()).unwrap())
}

/// A copy of the hibari folder with `name` replaced by `content` (or removed).
fn damaged(name: &str, content: Option<&[u8]>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(hibari_dir()).unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap();
        if file != name && file != "hibari.onnx" {
            std::os::unix::fs::symlink(&path, dir.path().join(file)).unwrap();
        }
    }
    if let Some(content) = content {
        std::fs::write(dir.path().join(name), content).unwrap();
    }
    dir
}

#[test]
fn damaged_or_missing_assets_are_errors_naming_the_file() {
    for (name, content) in [
        ("tagger.json.gz", Some(&b"not gzip"[..])),
        ("normalize.json", Some(&b"{\"months\": 3}"[..])),
        ("oov.onnx", Some(&b"not a model"[..])),
        ("lexicon_us_gold.json.gz", None),
    ] {
        let dir = damaged(name, content);
        let err = G2p::open(dir.path(), &runtime_library()).unwrap_err();
        let path = match &err {
            TtsError::HibariAsset { path, .. } | TtsError::Io { path, .. } => path.clone(),
            other => panic!("{name}: unexpected {other:?}"),
        };
        assert_eq!(path, dir.path().join(name), "{err}");
        assert!(err.is_installation_problem() || content.is_none(), "{err}");
    }
}

#[test]
fn every_fixture_sentence_matches_python() {
    let fixture = fixture();
    let mut mismatches = Vec::new();
    for (sentence, expected) in &fixture.g2p {
        let got = g2p().phonemize(sentence).unwrap();
        assert_eq!(got.sources.len(), got.text.chars().count(), "{sentence:?}");
        if &got.text != expected {
            mismatches.push(format!(
                "{sentence:?}\n  python: {expected:?}\n  rust:   {:?}",
                got.text
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} sentences differ:\n{}",
        mismatches.len(),
        fixture.g2p.len(),
        mismatches.join("\n")
    );
}

#[test]
fn texts_split_and_chunk_like_python() {
    for case in fixture().texts {
        let sentences = split_sentences(&case.text, g2p().titles());
        let texts: Vec<&str> = sentences.iter().map(|s| s.text).collect();
        assert_eq!(texts, case.sentences, "{:?}", case.text);
        for s in &sentences {
            assert_eq!(&case.text[s.start..s.start + s.text.len()], s.text);
        }
        let mut chunks = Vec::new();
        for s in &sentences {
            chunks.extend(chunk(g2p().phonemize(s.text).unwrap()));
        }
        let chunk_texts: Vec<&str> = chunks.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(chunk_texts, case.chunks, "{:?}", case.text);
        for c in &chunks {
            assert_eq!(c.sources.len(), c.text.chars().count());
        }
    }
}

/// The phonemes grouped by source, as (the input word at that offset, its phonemes); a space
/// between two tokens of the same source stays inside the group. Checks on the way that the
/// sources never go backwards.
fn by_source(sentence: &str) -> Vec<(&str, String)> {
    let p = g2p().phonemize(sentence).unwrap();
    assert_eq!(p.sources.len(), p.text.chars().count());
    let sources: Vec<usize> = p.sources.iter().flatten().copied().collect();
    assert!(
        sources.windows(2).all(|w| w[0] <= w[1]),
        "{sentence:?}: {:?}",
        p.sources
    );
    let mut groups: Vec<(usize, String)> = Vec::new();
    let mut pending = String::new();
    for (c, source) in p.text.chars().zip(&p.sources) {
        match (source, groups.last_mut()) {
            (None, _) => pending.push(c),
            (Some(s), Some((last, text))) if last == s => {
                text.push_str(&std::mem::take(&mut pending));
                text.push(c);
            }
            (Some(s), _) => {
                pending.clear();
                groups.push((*s, c.to_string()));
            }
        }
    }
    groups
        .into_iter()
        .map(|(s, text)| {
            (
                sentence[s..].split(char::is_whitespace).next().unwrap(),
                text,
            )
        })
        .collect()
}

fn owned(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    pairs.iter().map(|(w, p)| (*w, p.to_string())).collect()
}

#[test]
fn every_phoneme_points_at_the_token_that_made_it() {
    assert_eq!(
        by_source("In 1987 Dr. Smith paid $9.99."),
        owned(&[
            ("In", "ɪn"),
            ("1987", "nˌIntˈin ˈATi sˈɛvən"),
            ("Dr.", "dˈɑktəɹ"),
            ("Smith", "smˈɪθ"),
            ("paid", "pˈAd"),
            ("$9.99.", "nˈIn dˈɑləɹz ænd nˈIndi nˈIn sˈɛnts"),
            (".", "."),
        ])
    );
    assert_eq!(
        by_source("At 3:30 pm, 7 o'clock, Room 212 and 10 km."),
        owned(&[
            ("At", "ˌæt"),
            ("3:30", "θɹˈi θˈɜɹTi pˌiˈɛm"),
            (",", ","),
            ("7", "sˈɛvən"),
            ("o'clock,", "əklˈɑk"),
            (",", ","),
            ("Room", "ɹˈum"),
            ("212", "tˈu hˈʌndɹəd twˈɛlv"),
            ("and", "ænd"),
            ("10", "tˈɛn"),
            ("km.", "kəlˈɑməTəɹz"),
            (".", "."),
        ])
    );
    assert_eq!(
        by_source("On March 3rd, 2024 we met."),
        owned(&[
            ("On", "ˌɔn"),
            ("March", "mˈɑɹʧ"),
            ("3rd,", "θˈɜɹd"),
            (",", ","),
            ("2024", "twˈɛnti twˈɛnti fˈɔɹ"),
            ("we", "wi"),
            ("met.", "mˈɛt"),
            (".", "."),
        ])
    );
    assert_eq!(
        by_source("COVID-19 spread."),
        owned(&[
            ("COVID-19", "kˈOvˌɪd nˌIntˈin"),
            ("spread.", "spɹˈɛd"),
            (".", ".")
        ])
    );
}

#[test]
fn sources_are_offsets_into_the_raw_sentence() {
    // Collapsed whitespace and curly quotes before the words: offsets still count raw bytes.
    let sentence = "  “Hi,”\n\n  there  $3 million.";
    assert_eq!(
        by_source(sentence),
        owned(&[
            // The opening quote joins "Hi" as one piece group: the group starts at the quote.
            ("“Hi,”", "hˈI"),
            (",”", ","),
            ("there", "ðɛɹ"),
            ("$3", "θɹˈi mˈɪljᵊn dˈɑləɹz"),
            (".", "."),
        ])
    );
}

#[test]
fn sources_survive_chunking() {
    let case = fixture()
        .texts
        .into_iter()
        .find(|c| c.text.starts_with("It was the best"))
        .unwrap();
    let sentences = split_sentences(&case.text, g2p().titles());
    let whole = g2p().phonemize(sentences[0].text).unwrap();
    let chunks = chunk(whole.clone());
    assert!(chunks.len() > 1);
    let kept: Vec<Option<usize>> = chunks
        .iter()
        .flat_map(|c| c.sources.iter().copied())
        .filter(Option::is_some)
        .collect();
    let all: Vec<Option<usize>> = whole
        .sources
        .iter()
        .copied()
        .filter(Option::is_some)
        .collect();
    assert_eq!(kept, all);
}
