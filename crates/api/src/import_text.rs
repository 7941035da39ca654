//! The plain-text import format of `POST /api/projects/import/`, read as the original Django
//! backend's `TextParser` reads it (its `backend/api/parsers.py`).
//!
//! Blocks are separated by lines made of three or more hyphens and nothing else. In a block,
//! each line is trimmed; a line starting `Text:` (any case) holds narration and one starting
//! `Prompt:` an image prompt, the rest of the line trimmed. Several `Text:` lines are joined
//! with a space, several `Prompt:` lines too, and other lines of a labelled block are ignored.
//! Blocks with nothing but whitespace are skipped.
//!
//! Where the original refused, two departures: a block with neither label is taken whole as
//! narration (the original refused it), and a line break may be `\r\n` (the original then saw
//! no separators at all and made one segment of everything).

use crate::models::SegmentText;

/// Why a block cannot become a segment; `block` counts the non-empty blocks from 1, as the
/// original's messages do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextImportError {
    #[error("Block {block} has a Prompt: line but no Text: line.")]
    PromptWithoutText { block: usize },
    #[error("Block {block} has an empty Text: value.")]
    EmptyText { block: usize },
}

/// Splits `raw` into segments, in order. Pure: no I/O, no validation beyond the format.
pub fn parse_segments(raw: &str) -> Result<Vec<SegmentText>, TextImportError> {
    split_blocks(raw)
        .into_iter()
        .filter(|block| block.iter().any(|line| !line.trim().is_empty()))
        .enumerate()
        .map(|(index, block)| parse_block(&block, index + 1))
        .collect()
}

/// Only the line itself: the original's `\n-{3,}\n` takes no spaces around the hyphens.
fn is_separator(line: &str) -> bool {
    line.len() >= 3 && line.bytes().all(|b| b == b'-')
}

fn split_blocks(raw: &str) -> Vec<Vec<&str>> {
    let mut blocks = vec![Vec::new()];
    for line in raw.lines() {
        if is_separator(line) {
            blocks.push(Vec::new());
        } else if let Some(block) = blocks.last_mut() {
            block.push(line);
        }
    }
    blocks
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Label {
    Text,
    Prompt,
}

/// The label a trimmed line starts with, and the rest of the line after it, trimmed.
fn label_of(line: &str) -> Option<(Label, &str)> {
    [("text:", Label::Text), ("prompt:", Label::Prompt)]
        .into_iter()
        .find_map(|(prefix, label)| {
            let head = line.get(..prefix.len())?;
            head.eq_ignore_ascii_case(prefix)
                .then(|| (label, line[prefix.len()..].trim()))
        })
}

fn parse_block(lines: &[&str], block: usize) -> Result<SegmentText, TextImportError> {
    let lines: Vec<&str> = lines.iter().map(|line| line.trim()).collect();
    let labelled: Vec<(Label, &str)> = lines.iter().filter_map(|line| label_of(line)).collect();
    if labelled.is_empty() {
        return Ok(SegmentText {
            text_content: lines.join("\n").trim().to_owned(),
            image_prompt: String::new(),
        });
    }
    let joined = |wanted: Label| {
        labelled
            .iter()
            .filter(|(label, _)| *label == wanted)
            .map(|(_, rest)| *rest)
            .collect::<Vec<_>>()
    };
    let text = joined(Label::Text);
    if text.is_empty() {
        return Err(TextImportError::PromptWithoutText { block });
    }
    // Joined as the original joins them, so a blank `Text:` line leaves its space.
    let text_content = text.join(" ");
    if text_content.trim().is_empty() {
        return Err(TextImportError::EmptyText { block });
    }
    Ok(SegmentText {
        text_content,
        image_prompt: joined(Label::Prompt).join(" "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(text: &str, prompt: &str) -> SegmentText {
        SegmentText {
            text_content: text.to_owned(),
            image_prompt: prompt.to_owned(),
        }
    }

    fn parse(raw: &str) -> Vec<SegmentText> {
        parse_segments(raw).unwrap()
    }

    #[test]
    fn labelled_blocks_give_narration_and_prompt() {
        let raw = "Text: The sun rises.\nPrompt: a sunrise over hills\n---\n\
                   prompt: a fox\n   TEXT:   A fox wakes up.  \n";
        assert_eq!(
            parse(raw),
            [
                seg("The sun rises.", "a sunrise over hills"),
                seg("A fox wakes up.", "a fox")
            ]
        );
    }

    #[test]
    fn several_labels_join_with_a_space_and_other_lines_are_ignored() {
        let raw = "Scene 1\nText: First line\n  not labelled\nText: second line\n\
                   Prompt: wide shot\nPrompt: of a valley\nText:\nText: last";
        assert_eq!(
            parse(raw),
            [seg("First line second line  last", "wide shot of a valley")]
        );
    }

    #[test]
    fn unlabelled_blocks_are_narration_and_empty_blocks_are_skipped() {
        let raw =
            "\n---\nOnce upon a time,\n  there was a fox.\n\n------\n   \n-----\nThe end.\n---";
        assert_eq!(
            parse(raw),
            [
                seg("Once upon a time,\nthere was a fox.", ""),
                seg("The end.", "")
            ]
        );
    }

    #[test]
    fn separators_are_three_or_more_hyphens_alone_on_their_line() {
        let raw = "a -- b\n--\nc\n - - -\nd\n  ---  \ne\r\n---\r\nf\r\n";
        assert_eq!(
            parse(raw),
            [seg("a -- b\n--\nc\n- - -\nd\n---\ne", ""), seg("f", "")]
        );
    }

    #[test]
    fn a_prompt_needs_text_and_text_must_not_be_empty() {
        assert_eq!(
            parse_segments("Text: a\n---\n\n---\nPrompt: just a picture"),
            Err(TextImportError::PromptWithoutText { block: 2 })
        );
        assert_eq!(
            parse_segments("Text:   \nPrompt: p"),
            Err(TextImportError::EmptyText { block: 1 })
        );
        assert_eq!(parse("Text: only narration"), [seg("only narration", "")]);
    }

    #[test]
    fn labels_must_start_the_line() {
        let raw = "The Text: is not a label here\nnor Prompt: this\nText : nor this";
        assert_eq!(
            parse(raw),
            [seg(
                "The Text: is not a label here\nnor Prompt: this\nText : nor this",
                ""
            )]
        );
    }

    #[test]
    fn nothing_parses_to_nothing() {
        assert!(parse("").is_empty());
        assert!(parse("---\n\n---").is_empty());
        assert_eq!(parse("Ünïcödé naïve text"), [seg("Ünïcödé naïve text", "")]);
    }
}
