//! The plain-text import format of `POST /api/projects/import/`.
//!
//! Blocks are separated by lines made of three or more hyphens. In a block, a line starting
//! with `Text:` (any case) begins the narration and a line starting with `Prompt:` the image
//! prompt; the lines after a label, up to the next label, continue it. Lines before the first
//! label (a heading such as "Scene 1") are dropped. A block with neither label is taken whole
//! as narration, and blocks with nothing in them are skipped.

use crate::models::SegmentText;

/// Splits `raw` into segments, in order. Pure: no I/O, no validation beyond the format.
pub fn parse_segments(raw: &str) -> Vec<SegmentText> {
    split_blocks(raw)
        .into_iter()
        .filter_map(|block| parse_block(&block))
        .collect()
}

fn is_separator(line: &str) -> bool {
    let line = line.trim();
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

/// The label a line starts with, and the rest of the line after it.
fn label_of(line: &str) -> Option<(Label, &str)> {
    let line = line.trim_start();
    [("text:", Label::Text), ("prompt:", Label::Prompt)]
        .into_iter()
        .find_map(|(prefix, label)| {
            let head = line.get(..prefix.len())?;
            head.eq_ignore_ascii_case(prefix)
                .then(|| (label, &line[prefix.len()..]))
        })
}

fn parse_block(lines: &[&str]) -> Option<SegmentText> {
    let labelled = lines.iter().any(|line| label_of(line).is_some());
    let segment = if labelled {
        let mut text = Vec::new();
        let mut prompt = Vec::new();
        let mut current: Option<Label> = None;
        for line in lines {
            let content = match label_of(line) {
                Some((label, rest)) => {
                    current = Some(label);
                    rest
                }
                None => line,
            };
            match current {
                Some(Label::Text) => text.push(content),
                Some(Label::Prompt) => prompt.push(content),
                None => {}
            }
        }
        SegmentText {
            text_content: join_trimmed(&text),
            image_prompt: join_trimmed(&prompt),
        }
    } else {
        SegmentText {
            text_content: join_trimmed(lines),
            image_prompt: String::new(),
        }
    };
    (!segment.text_content.is_empty() || !segment.image_prompt.is_empty()).then_some(segment)
}

/// The lines, each trimmed, blank ones at either end dropped, joined by newlines.
fn join_trimmed(lines: &[&str]) -> String {
    let trimmed: Vec<&str> = lines.iter().map(|line| line.trim()).collect();
    trimmed.join("\n").trim().to_owned()
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

    #[test]
    fn labelled_blocks_give_narration_and_prompt() {
        let raw = "Text: The sun rises.\nPrompt: a sunrise over hills\n---\n\
                   prompt: a fox\nTEXT: A fox wakes up.\n";
        assert_eq!(
            parse_segments(raw),
            [
                seg("The sun rises.", "a sunrise over hills"),
                seg("A fox wakes up.", "a fox")
            ]
        );
    }

    #[test]
    fn unlabelled_blocks_are_narration_and_empty_blocks_are_skipped() {
        let raw = "\n---\nOnce upon a time,\nthere was a fox.\n\n------\n   \n-----\nThe end.";
        assert_eq!(
            parse_segments(raw),
            [
                seg("Once upon a time,\nthere was a fox.", ""),
                seg("The end.", "")
            ]
        );
    }

    #[test]
    fn lines_after_a_label_continue_it_and_headings_are_dropped() {
        let raw = "Scene 1\nText: First line\n  second line\nPrompt: wide shot\nof a valley";
        assert_eq!(
            parse_segments(raw),
            [seg("First line\nsecond line", "wide shot\nof a valley")]
        );
    }

    #[test]
    fn separators_need_three_hyphens_alone_on_their_line() {
        let raw = "a -- b\n--\nc\n - - -\nd\n  ---  \ne\r\n---\r\nf\r\n";
        assert_eq!(
            parse_segments(raw),
            [
                seg("a -- b\n--\nc\n- - -\nd", ""),
                seg("e", ""),
                seg("f", "")
            ]
        );
    }

    #[test]
    fn a_prompt_alone_still_makes_a_segment_but_empty_labels_do_not() {
        let raw = "Prompt: just a picture\n---\nText:\nPrompt:\n---\nText:   \n";
        assert_eq!(parse_segments(raw), [seg("", "just a picture")]);
    }

    #[test]
    fn labels_must_start_the_line() {
        let raw = "The Text: is not a label here\nnor Prompt: this";
        assert_eq!(
            parse_segments(raw),
            [seg("The Text: is not a label here\nnor Prompt: this", "")]
        );
    }

    #[test]
    fn nothing_parses_to_nothing() {
        assert!(parse_segments("").is_empty());
        assert!(parse_segments("---\n\n---").is_empty());
        assert_eq!(
            parse_segments("Ünïcödé naïve text"),
            [seg("Ünïcödé naïve text", "")]
        );
    }
}
