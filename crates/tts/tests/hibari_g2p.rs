//! The hibari G2P port against Python hibari-tts 0.2.1: every sentence of the fixture
//! (written by scripts/fixtures/hibari_g2p_reference.py) must give exactly Python's phonemes,
//! and the sentence splitting and clause chunking of its texts must match too. Needs the
//! installed TTS home (scripts/setup.sh).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::OnceLock;

use serde::Deserialize;
use tts::hibari::g2p::G2p;
use tts::hibari::sentences::{chunk, split_sentences};
use tts::TtsHome;

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
    serde_json::from_str(include_str!("fixtures/hibari_g2p.json")).unwrap()
}

fn g2p() -> &'static G2p {
    static G2P: OnceLock<G2p> = OnceLock::new();
    G2P.get_or_init(|| {
        let home = TtsHome::from_env().expect("a TTS home");
        let environment = ort::init_from(home.runtime_library())
            .expect("the ONNX Runtime library (scripts/setup.sh)")
            .with_name("hibari-g2p-test")
            .build()
            .unwrap();
        G2p::load(&home.hibari_dir(), &environment).unwrap()
    })
}

#[test]
fn every_fixture_sentence_matches_python() {
    let fixture = fixture();
    let mut mismatches = Vec::new();
    for (sentence, expected) in &fixture.g2p {
        let got = g2p().phonemize(sentence).unwrap();
        assert_eq!(got.sources.len(), got.text.chars().count(), "{sentence:?}");
        if &got.text != expected {
            mismatches.push(format!("{sentence:?}\n  python: {expected:?}\n  rust:   {:?}", got.text));
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
