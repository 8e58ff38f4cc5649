//! RoBERTa's byte-level BPE `tokenizer.json` read by [`load_tokenizer`] encodes as
//! `transformers` does: single texts as `<s> a </s>`, pairs as `<s> a </s></s> b </s>`, with
//! `<mask>` kept whole (the ids `scripts/make_roberta_fixtures.py` saved).
#![allow(clippy::unwrap_used)] // tests fail loudly on bad fixtures

use distil_core::checkpoint::read_tensors;
use distil_data::load_tokenizer;
use distil_testkit::fixture;
use tokenizers::EncodeInput;

/// `SEQ_PAIRS` of the fixture script, in the rows of `roberta-inputs.safetensors`.
const PAIRS: [(&str, Option<&str>); 4] = [
    ("The song was in the film.", None),
    ("It was the", Some("end of the war.")),
    ("Where is it?", Some("In the city.")),
    ("He was the <mask>.", None),
];

#[test]
fn pairs_encode_as_transformers_does() {
    let tokenizer = load_tokenizer(&fixture("roberta-mlm").display().to_string()).unwrap();
    let batch = read_tensors(&fixture("roberta-inputs.safetensors")).unwrap();
    let (ids, mask) = (&batch["input_ids"], &batch["attention_mask"]);
    for (row, (a, b)) in PAIRS.into_iter().enumerate() {
        let input: EncodeInput<'_> = match b {
            Some(b) => (a, b).into(),
            None => a.into(),
        };
        let encoding = tokenizer.encode(input, true).unwrap();
        let row = row as i64;
        let real = mask.get(row).sum(tch::Kind::Int64).int64_value(&[]);
        let want = Vec::<i64>::try_from(ids.get(row).narrow(0, 0, real)).unwrap();
        let got: Vec<i64> = encoding.get_ids().iter().map(|&i| i64::from(i)).collect();
        assert_eq!(got, want, "row {row}");
        let tokens = encoding.get_tokens();
        assert_eq!(tokens.first().map(String::as_str), Some("<s>"));
        assert_eq!(tokens.last().map(String::as_str), Some("</s>"));
        if b.is_some() {
            let seps = tokens.windows(2).filter(|w| w == &["</s>", "</s>"]).count();
            assert_eq!(seps, 1, "row {row}: {tokens:?}");
        }
    }
    let masked = tokenizer.encode(PAIRS[3].0, true).unwrap();
    assert!(masked.get_tokens().iter().any(|t| t == "<mask>"));
}
