//! The shipped bert-base-uncased tokenizer reproduces all 212 reference encodings made by
//! Python `tokenizers` (ids, tokens, type ids, character offsets, special-token masks).

use distil_data::load_tokenizer;
use distil_testkit::vocab_dir;
use serde::Deserialize;

#[derive(Deserialize)]
struct Golden {
    text: String,
    text_pair: Option<String>,
    ids: Vec<u32>,
    tokens: Vec<String>,
    type_ids: Vec<u32>,
    offsets: Vec<(usize, usize)>,
    special_tokens_mask: Vec<u32>,
}

/// One field of an encoding equals the golden one; the failure names the field and the case.
fn same<T: PartialEq + std::fmt::Debug>(field: &str, got: &[T], want: &[T], case: &str) {
    assert_eq!(got, want, "{field}, {case}");
}

#[test]
fn matches_every_golden_encoding() {
    let dir = vocab_dir();
    let tokenizer = load_tokenizer(dir.to_str().unwrap()).unwrap();
    let text = std::fs::read_to_string(dir.join("golden_encodings.jsonl")).unwrap();
    let mut checked = 0;
    for (line_no, line) in text.lines().enumerate() {
        let golden: Golden = serde_json::from_str(line).unwrap();
        let encoding = match &golden.text_pair {
            Some(pair) => {
                tokenizer.encode_char_offsets((golden.text.as_str(), pair.as_str()), true)
            }
            None => tokenizer.encode_char_offsets(golden.text.as_str(), true),
        }
        .unwrap();
        let case = format!("golden line {}: {:?}", line_no + 1, golden.text);
        same("ids", encoding.get_ids(), &golden.ids, &case);
        same("tokens", encoding.get_tokens(), &golden.tokens, &case);
        same("type ids", encoding.get_type_ids(), &golden.type_ids, &case);
        same("offsets", encoding.get_offsets(), &golden.offsets, &case);
        same(
            "special tokens mask",
            encoding.get_special_tokens_mask(),
            &golden.special_tokens_mask,
            &case,
        );
        checked += 1;
    }
    assert_eq!(checked, 212);
}

#[test]
fn a_directory_without_tokenizer_json_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let err = load_tokenizer(dir.path().to_str().unwrap()).unwrap_err();
    assert!(err.to_string().contains("tokenizer.json"), "{err}");
}

#[test]
fn a_corrupt_tokenizer_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tokenizer.json"), "{ not json").unwrap();
    let err = load_tokenizer(dir.path().to_str().unwrap()).unwrap_err();
    assert!(err.to_string().contains("tokenizer.json"), "{err}");
}
