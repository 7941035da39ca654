//! Averaged-perceptron part-of-speech tagger with Penn Treebank tags (hibari `g2p/tagger.py`),
//! trained on spaCy's tags so the lexicon's part-of-speech readings ("read", "live") match
//! the reference pipeline. A word with one dominant tag is answered from the tag dictionary,
//! every other from the weights.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;

use super::pystr;

const START: [&str; 2] = ["-START2-", "-START-"];
const END: [&str; 2] = ["-END-", "-END2-"];

/// `tagger.json.gz` as stored.
#[derive(Debug, Deserialize)]
pub(crate) struct TaggerModel {
    tags: Vec<String>,
    tagdict: HashMap<String, String>,
    vocab: Option<Vec<String>>,
    weights: HashMap<String, HashMap<String, f64>>,
}

#[derive(Debug)]
pub(crate) struct Tagger {
    tags: Vec<String>,
    tagdict: HashMap<String, String>,
    vocab: Option<HashSet<String>>,
    /// Feature -> (index into `tags`, weight); tags not in `tags` never win in Python either.
    weights: HashMap<String, Vec<(usize, f64)>>,
}

/// The word as the feature window sees it.
pub(crate) fn norm(w: &str) -> String {
    if w.contains('-') && !w.starts_with('-') {
        "!HYPHEN".to_string()
    } else if pystr::is_digit(w) && pystr::len(w) == 4 {
        "!YEAR".to_string()
    } else if w.chars().next().is_some_and(pystr::is_digit_char) {
        "!DIGITS".to_string()
    } else {
        w.to_lowercase()
    }
}

/// The word's letter-case and digit shape ("Xx", "XX", "d", "dd:d" ...).
pub(crate) fn shape(w: &str) -> String {
    if pystr::is_alpha(w) {
        let shape = if pystr::is_lower(w) {
            "x"
        } else if pystr::is_upper(w) {
            if pystr::len(w) > 1 {
                "XX"
            } else {
                "X1"
            }
        } else if w.chars().next().is_some_and(char::is_uppercase)
            && pystr::is_lower(pystr::tail(w))
        {
            "Xx"
        } else {
            "xX"
        };
        return shape.to_string();
    }
    if pystr::is_digit(w) {
        return "d".to_string();
    }
    w.chars()
        .take(4)
        .map(|c| {
            if pystr::is_digit_char(c) {
                'd'
            } else if pystr::is_alpha_char(c) {
                'x'
            } else {
                c
            }
        })
        .collect()
}

/// The features of word `i`: `ctx` is the padded normalised window, so `ctx[i + 2]` is the
/// word itself.
pub(crate) fn features(
    i: usize,
    word: &str,
    ctx: &[String],
    prev: &str,
    prev2: &str,
) -> Vec<String> {
    let j = i + 2;
    let first: String = word.chars().take(1).collect();
    vec![
        "b".to_string(),
        format!("s3={}", pystr::last3(word)),
        format!("p1={first}"),
        format!("w={}", ctx[j]),
        format!("sh={}", shape(word)),
        (if i == 0 { "i0" } else { "i+" }).to_string(),
        format!("t-1={prev}"),
        format!("t-2={prev2}"),
        format!("t-12={prev},{prev2}"),
        format!("w-1={}", ctx[j - 1]),
        format!("s3-1={}", pystr::last3(&ctx[j - 1])),
        format!("w-2={}", ctx[j - 2]),
        format!("w+1={}", ctx[j + 1]),
        format!("s3+1={}", pystr::last3(&ctx[j + 1])),
        format!("w+2={}", ctx[j + 2]),
    ]
}

impl Tagger {
    pub(crate) fn new(model: TaggerModel) -> Self {
        let index: HashMap<&str, usize> = model
            .tags
            .iter()
            .enumerate()
            .map(|(i, t)| (t.as_str(), i))
            .collect();
        let weights = model
            .weights
            .into_iter()
            .map(|(feature, ws)| {
                let mut ws: Vec<(usize, f64)> = ws
                    .into_iter()
                    .filter_map(|(t, w)| index.get(t.as_str()).map(|&i| (i, w)))
                    .collect();
                ws.sort_by_key(|&(i, _)| i);
                (feature, ws)
            })
            .collect();
        Self {
            vocab: model.vocab.map(|v| v.into_iter().collect()),
            tags: model.tags,
            tagdict: model.tagdict,
            weights,
        }
    }

    /// The normalised window: rare words replaced by their shape, padded at both ends.
    fn context(&self, words: &[&str]) -> Vec<String> {
        let mut out: Vec<String> = START.iter().map(|s| s.to_string()).collect();
        for w in words {
            let n = norm(w);
            let known = self.vocab.as_ref().is_none_or(|v| v.contains(&n));
            out.push(if known { n } else { format!("<{}>", shape(w)) });
        }
        out.extend(END.iter().map(|s| s.to_string()));
        out
    }

    fn predict(&self, features: &[String]) -> &str {
        // Summed feature by feature, as Python does, so float ties break the same way.
        let mut scores: Vec<Option<f64>> = vec![None; self.tags.len()];
        for f in features {
            for &(t, w) in self.weights.get(f).into_iter().flatten() {
                scores[t] = Some(scores[t].unwrap_or(0.0) + w);
            }
        }
        if scores.iter().all(Option::is_none) {
            return "NN";
        }
        // max by (score, tag name)
        let mut best: Option<(f64, &str)> = None;
        for (t, score) in self.tags.iter().zip(&scores) {
            let key = (score.unwrap_or(0.0), t.as_str());
            if best.is_none_or(|b| key.0 > b.0 || (key.0 == b.0 && key.1 > b.1)) {
                best = Some(key);
            }
        }
        best.map_or("NN", |b| b.1)
    }

    /// One tag per word.
    pub(crate) fn tag(&self, words: &[&str]) -> Vec<String> {
        let ctx = self.context(words);
        let (mut prev, mut prev2) = (START[1].to_string(), START[0].to_string());
        let mut tags = Vec::with_capacity(words.len());
        for (i, w) in words.iter().enumerate() {
            let tag = match self.tagdict.get(*w) {
                Some(tag) => tag.clone(),
                None => self
                    .predict(&features(i, w, &ctx, &prev, &prev2))
                    .to_string(),
            };
            prev2 = std::mem::replace(&mut prev, tag.clone());
            tags.push(tag);
        }
        tags
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn norm_and_shape() {
        assert_eq!(norm("well-known"), "!HYPHEN");
        assert_eq!(norm("1987"), "!YEAR");
        assert_eq!(norm("42nd"), "!DIGITS");
        assert_eq!(norm("Hello"), "hello");
        assert_eq!(shape("hello"), "x");
        assert_eq!(shape("NASA"), "XX");
        assert_eq!(shape("A"), "X1");
        assert_eq!(shape("Hello"), "Xx");
        assert_eq!(shape("iPhone"), "xX");
        assert_eq!(shape("1987"), "d");
        assert_eq!(shape("3:30pm"), "d:dd");
        assert_eq!(shape("COVID-19"), "xxxx");
    }

    #[test]
    fn features_of_a_word_in_its_window() {
        let ctx: Vec<String> = ["-START2-", "-START-", "i", "read", "it", "-END-", "-END2-"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            features(1, "read", &ctx, "PRP", "-START-"),
            [
                "b",
                "s3=ead",
                "p1=r",
                "w=read",
                "sh=x",
                "i+",
                "t-1=PRP",
                "t-2=-START-",
                "t-12=PRP,-START-",
                "w-1=i",
                "s3-1=i",
                "w-2=-START-",
                "w+1=it",
                "s3+1=it",
                "w+2=-END-"
            ]
        );
    }
}
