//! The token record shared by the tokenizer, tagger and lexicon (hibari `g2p/token.py`,
//! misaki's MToken flattened). misaki's per-token stress, number flags and rating never change
//! the phonemes hibari returns, so they are left out.

/// One token on its way from text to phonemes.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Tok {
    pub text: String,
    pub tag: String,
    /// `" "` when the text had whitespace after the token, else `""`.
    pub whitespace: String,
    pub phonemes: Option<String>,
    pub is_head: bool,
    pub alias: Option<String>,
    pub currency: Option<String>,
    pub prespace: bool,
    /// Byte offset of the token's first character in the normalised text.
    pub at: usize,
}

impl Tok {
    pub(crate) fn new(text: &str, tag: &str, whitespace: &str, at: usize) -> Self {
        Self {
            text: text.to_string(),
            tag: tag.to_string(),
            whitespace: whitespace.to_string(),
            is_head: true,
            at,
            ..Self::default()
        }
    }
}

/// Several tokens as one: their text joined as it was written, the tag of the piece with the
/// most capitals, and (given `unk`) their phonemes joined, with a space where a piece asks for
/// one. Without `unk` the merge has no phonemes (a lookup candidate).
pub(crate) fn merge_tokens(tokens: &[Tok], unk: Option<&str>) -> Tok {
    let first = &tokens[0];
    let last = &tokens[tokens.len() - 1];
    let phonemes = unk.map(|unk| {
        let mut phonemes = String::new();
        for tk in tokens {
            let ends_in_space = phonemes.chars().last().is_some_and(char::is_whitespace);
            if tk.prespace
                && !phonemes.is_empty()
                && !ends_in_space
                && tk.phonemes.as_deref().is_some_and(|p| !p.is_empty())
            {
                phonemes.push(' ');
            }
            phonemes.push_str(tk.phonemes.as_deref().unwrap_or(unk));
        }
        phonemes
    });
    let mut text = String::new();
    for tk in &tokens[..tokens.len() - 1] {
        text.push_str(&tk.text);
        text.push_str(&tk.whitespace);
    }
    text.push_str(&last.text);
    // Python's max() keeps the first of equal weights.
    let weight = |tk: &Tok| -> usize {
        tk.text
            .chars()
            .map(|c| {
                if c.to_lowercase().eq(std::iter::once(c)) {
                    1
                } else {
                    2
                }
            })
            .sum()
    };
    let mut heaviest = first;
    for tk in tokens {
        if weight(tk) > weight(heaviest) {
            heaviest = tk;
        }
    }
    Tok {
        text,
        tag: heaviest.tag.clone(),
        whitespace: last.whitespace.clone(),
        phonemes,
        is_head: first.is_head,
        alias: None,
        currency: tokens.iter().filter_map(|tk| tk.currency.clone()).max(),
        prespace: first.prespace,
        at: first.at,
    }
}
