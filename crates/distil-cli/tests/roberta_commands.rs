//! The commands that load "any model" on RoBERTa folders, checked against what `transformers`
//! computed for the fixtures (`scripts/make_roberta_fixtures.py`): fill-mask with RoBERTa's
//! `<mask>` (candidates decoded as the fill-mask pipeline prints them), encode, export and
//! inspect, a tiny GLUE fine-tune whose saved folder loads again, a config that does not match
//! its weights, and what a SQuAD run refuses.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod common;

use std::path::Path;
use std::process::Output;

use common::{distil_in as distil, rte_args, rte_slice, stderr};
use distil_core::checkpoint::read_tensors;
use distil_core::nn::PretrainedModel;
use distil_core::EncoderInput;
use distil_data::load_tokenizer;
use distil_models::AnyLanguageModel;
use distil_roberta::RobertaForSequenceClassification;
use distil_testkit::hf_parity::{expected, inputs_of, PARITY_TOL};
use distil_testkit::{assert_close, fixture, fixture_arg, max_abs_diff, read_json};
use tch::{Device, Kind, Tensor};

/// Rows of the fixture batch: a single sentence, and the one with `<mask>`.
const SENTENCE_ROW: i64 = 0;
const MASKED_ROW: i64 = 3;
const SENTENCE: &str = "The song was in the film.";
const MASKED: &str = "He was the <mask>.";

fn succeeded(output: Output) -> String {
    assert!(output.status.success(), "{}", stderr(&output));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The real (unpadded) ids of row `row` of the fixture batch.
fn fixture_ids(row: i64) -> Tensor {
    let batch = inputs_of("roberta-mlm");
    let real = batch["attention_mask"]
        .get(row)
        .sum(Kind::Int64)
        .int64_value(&[]);
    batch["input_ids"].get(row).narrow(0, 0, real)
}

/// `line` as fill-mask prints a candidate: `text` padded to 20 characters, then the score.
fn printed_score(line: &str, text: &str) -> f32 {
    let rest = line
        .strip_prefix(text)
        .unwrap_or_else(|| panic!("{line:?} does not start with {text:?}"));
    assert!(
        rest.starts_with(' '),
        "{line:?}: {text:?} is not the whole candidate"
    );
    rest.trim().parse().unwrap()
}

/// The scores printed are `transformers`' logits at the `<mask>` through a softmax, the
/// tokens those of the five highest, best first.
#[test]
fn fill_mask_ranks_the_fills_of_robertas_mask_token() {
    let work = tempfile::tempdir().unwrap();
    let model = fixture_arg("roberta-mlm");
    let stdout = succeeded(distil(
        work.path(),
        &["fill-mask", "--model", &model, "--top-k", "5", MASKED],
    ));

    let ids = Vec::<i64>::try_from(fixture_ids(MASKED_ROW)).unwrap();
    let tokenizer = load_tokenizer(&model).unwrap();
    let mask_id = i64::from(tokenizer.token_to_id("<mask>").unwrap());
    let position = ids.iter().position(|&id| id == mask_id).unwrap() as i64;
    let logits = expected("roberta-mlm")["logits"]
        .get(MASKED_ROW)
        .get(position);
    let (scores, best) = logits.softmax(-1, Kind::Float).topk(5, -1, true, true);
    let scores = Vec::<f32>::try_from(scores).unwrap();
    let best = Vec::<i64>::try_from(best).unwrap();

    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{stdout}");
    for ((line, score), id) in lines.iter().zip(&scores).zip(&best) {
        let want = tokenizer.decode(&[*id as u32], false).unwrap();
        let printed = printed_score(line, &want);
        assert!((printed - score).abs() < 6e-5, "{line}: want {score}");
    }

    // BERT's `[MASK]` means nothing to RoBERTa's tokenizer.
    let run = distil(
        work.path(),
        &["fill-mask", "--model", &model, "He was the [MASK]."],
    );
    assert!(!run.status.success());
    assert!(stderr(&run).contains("no <mask> token"), "{}", stderr(&run));
}

/// Candidates read as `transformers`' fill-mask pipeline gives them (`token_str`, the
/// tokenizer's decoding of the one id; `scripts/make_fill_mask_fixtures.py`): RoBERTa's
/// byte-level tokens without their `Ġ` (` poet`) and lone bytes as `�`, WordPiece's `##ly`
/// as it is, in the pipeline's order and with its scores.
#[test]
fn fill_mask_prints_candidates_as_the_transformers_pipeline_does() {
    let work = tempfile::tempdir().unwrap();
    let want = read_json(&fixture("expected/fill-mask.json"));
    let top_k = want["top_k"].as_u64().unwrap().to_string();
    for name in ["roberta-mlm", "distilbert-mlm"] {
        let case = &want[name];
        let stdout = succeeded(distil(
            work.path(),
            &[
                "fill-mask",
                "--model",
                &fixture_arg(name),
                "--top-k",
                &top_k,
                case["text"].as_str().unwrap(),
            ],
        ));
        let candidates = case["candidates"].as_array().unwrap();
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), candidates.len(), "{name}: {stdout}");
        for (line, candidate) in lines.iter().zip(candidates) {
            let text = candidate["token_str"].as_str().unwrap();
            let printed = printed_score(line, text);
            let score = candidate["score"].as_f64().unwrap() as f32;
            assert!(
                (printed - score).abs() < 6e-5,
                "{name}: {line:?}: want {score}"
            );
        }
        assert!(!stdout.contains('Ġ'), "{name}: {stdout}");
    }
}

/// Lines of different lengths in one batch (so one is padded with `<pad>`) give
/// `transformers`' ids, hidden states and logits.
#[test]
fn encode_writes_what_transformers_computes() {
    let work = tempfile::tempdir().unwrap();
    let lines = work.path().join("lines.txt");
    std::fs::write(&lines, format!("{SENTENCE}\n{MASKED}\n")).unwrap();
    let out = work.path().join("out.safetensors");
    succeeded(distil(
        work.path(),
        &[
            "encode",
            "--model",
            &fixture_arg("roberta-mlm"),
            "--input",
            lines.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    ));
    let written = read_tensors(&out).unwrap();
    let want = expected("roberta-mlm");
    for (line, row) in [(0, SENTENCE_ROW), (1, MASKED_ROW)] {
        let ids = fixture_ids(row);
        let len = ids.size()[0];
        assert!(
            written[&format!("input_ids.{line}")].equal(&ids),
            "line {line}"
        );
        let slice = |t: &Tensor| t.get(row).narrow(0, 0, len);
        let last = &written[&format!("last_hidden_state.{line}")];
        assert_close("last", last, &slice(&want["hidden_states.4"]), PARITY_TOL);
        let logits = &written[&format!("mlm_logits.{line}")];
        assert_close("logits", logits, &slice(&want["logits"]), PARITY_TOL);
        // No pooler: the pooled vector is `<s>`'s state.
        let pooled = &written[&format!("pooled.{line}")];
        assert_eq!(max_abs_diff(pooled, &last.get(0)), 0.0);
    }
}

/// A roberta-base style file (the tied `lm_head.decoder.*` duplicates saved) exports without
/// them; the export inspects cleanly and computes the same logits.
#[test]
fn export_drops_the_tied_decoder_and_inspect_lists_the_rest() {
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("old");
    std::fs::create_dir(&source).unwrap();
    let fixture_dir = fixture("roberta-mlm");
    for name in ["config.json", "tokenizer.json", "tokenizer_config.json"] {
        std::fs::copy(fixture_dir.join(name), source.join(name)).unwrap();
    }
    let mut tensors = read_tensors(&fixture_dir.join("model.safetensors")).unwrap();
    let decoder = tensors["roberta.embeddings.word_embeddings.weight"].copy();
    let bias = tensors["lm_head.bias"].copy();
    tensors.insert("lm_head.decoder.weight".into(), decoder);
    tensors.insert("lm_head.decoder.bias".into(), bias);
    let named: Vec<(&str, &Tensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    Tensor::write_safetensors(&named, source.join("model.safetensors")).unwrap();

    let out = work.path().join("exported");
    let said = succeeded(distil(
        work.path(),
        &[
            "export",
            "--model",
            source.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    ));
    assert!(
        said.contains("left out tied duplicates: lm_head.decoder.weight, lm_head.decoder.bias"),
        "{said}"
    );
    let saved = read_tensors(&out.join("model.safetensors")).unwrap();
    assert!(saved.keys().all(|k| !k.starts_with("lm_head.decoder")));
    assert!(out.join("tokenizer.json").is_file());

    let listed = succeeded(distil(
        work.path(),
        &["inspect", "--json", out.to_str().unwrap()],
    ));
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert!(listed.to_string().contains("lm_head.bias"), "{listed}");

    let batch = inputs_of("roberta-mlm");
    let input = EncoderInput::new(&batch["input_ids"], &batch["attention_mask"]);
    let logits = |dir: &Path| {
        let loaded = AnyLanguageModel::from_pretrained(dir, Device::Cpu).unwrap();
        assert!(loaded.report.unexpected.is_empty(), "{}", loaded.report);
        tch::no_grad(|| loaded.model.forward_t(&input, false).logits)
    };
    assert_eq!(max_abs_diff(&logits(&out), &logits(&fixture_dir)), 0.0);
}

/// A RoBERTa classifier (its 3-label head replaced by a fresh 2-label one) trains a few steps
/// on RTE without token types, and the folder it saves loads as a
/// `RobertaForSequenceClassification` whose evaluation gives the same metrics.
#[test]
fn a_roberta_classifier_fine_tunes_on_rte_and_its_saved_folder_reloads() {
    let work = tempfile::tempdir().unwrap();
    rte_slice(&work.path().join("RTE"), 16);
    let model = fixture_arg("roberta-seqcls");
    let tokenizer = fixture_arg("roberta-mlm");
    // The fixture's 64-row position table holds 62 tokens.
    let shorter = ["--set", "features.max_seq_length=48"];
    let mut args = rte_args("finetune", &model, &tokenizer);
    args.extend(shorter);
    args.extend(["--set", "training.epochs=1", "--run", "rte"]);
    let said = succeeded(distil(work.path(), &args));
    assert!(said.contains("acc"), "{said}");

    let saved = work.path().join("runs/rte/model");
    let config = read_json(&saved.join("config.json"));
    assert_eq!(config["model_type"], "roberta");
    assert_eq!(
        config["architectures"],
        serde_json::json!(["RobertaForSequenceClassification"])
    );
    assert_eq!(config["id2label"].as_object().unwrap().len(), 2);
    assert!(saved.join("tokenizer.json").is_file());
    let loaded = RobertaForSequenceClassification::from_pretrained(&saved, Device::Cpu).unwrap();
    assert!(
        loaded.report.missing_allowed.is_empty() && loaded.report.unexpected.is_empty(),
        "{}",
        loaded.report
    );

    let saved_arg = saved.display().to_string();
    let mut eval = rte_args("eval", &saved_arg, &tokenizer);
    eval.extend(shorter);
    succeeded(distil(work.path(), &eval));
    let trained = read_json(&work.path().join("runs/rte/results.json"));
    let evaluated = read_json(&work.path().join("runs/eval-rte-model/results.json"));
    assert_eq!(trained["metrics"], evaluated["metrics"]);
}

/// `model_type: "roberta"` over a BERT's weights: one error naming the weights file and both
/// model types, from every command that loads the model.
#[test]
fn bert_weights_under_a_roberta_config_are_one_error_naming_the_file() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("mislabelled");
    std::fs::create_dir(&dir).unwrap();
    let roberta = fixture("roberta-mlm");
    for name in ["config.json", "tokenizer.json"] {
        std::fs::copy(roberta.join(name), dir.join(name)).unwrap();
    }
    let weights = dir.join("model.safetensors");
    std::fs::copy(fixture("bert-mlm/model.safetensors"), &weights).unwrap();
    let lines = work.path().join("lines.txt");
    std::fs::write(&lines, format!("{SENTENCE}\n")).unwrap();
    let dir_arg = dir.display().to_string();
    let out = work.path().join("out.safetensors");
    for args in [
        vec!["fill-mask", "--model", &dir_arg, MASKED],
        vec![
            "encode",
            "--model",
            &dir_arg,
            "--input",
            lines.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    ] {
        let run = distil(work.path(), &args);
        assert!(!run.status.success(), "{args:?}");
        let said = stderr(&run);
        assert!(said.contains(&weights.display().to_string()), "{said}");
        assert!(said.contains("start with `bert.`"), "{said}");
        assert_eq!(said.trim().lines().count(), 1, "{said}");
    }
}

/// What a SQuAD run cannot use is one error line naming the file: a model type without a
/// span head (GPT-2), a tokenizer folder without `tokenizer.json` (slow-tokenizer files give
/// no offsets to cut answers with), and a BERT tokenizer for a RoBERTa (another family's
/// pair layout).
#[test]
fn squad_bad_inputs_are_one_error_naming_the_file() {
    let work = tempfile::tempdir().unwrap();
    let slow = work.path().join("slow-tokenizer");
    std::fs::create_dir(&slow).unwrap();
    for name in ["vocab.json", "merges.txt", "tokenizer_config.json"] {
        std::fs::copy(fixture("roberta-mlm").join(name), slow.join(name)).unwrap();
    }
    let slow = slow.display().to_string();
    let gpt2 = fixture_arg("gpt2-lm");
    let roberta = fixture_arg("roberta-qa");
    let bert_tokenizer = fixture_arg("bert-mlm");
    let cases = [
        (
            gpt2.as_str(),
            gpt2.as_str(),
            vec![
                gpt2.clone(),
                "model_type \"gpt2\"".into(),
                "question answering".into(),
            ],
        ),
        (
            roberta.as_str(),
            slow.as_str(),
            vec![format!("{slow}/tokenizer.json"), "offsets".into()],
        ),
        (
            roberta.as_str(),
            bert_tokenizer.as_str(),
            vec![
                format!("{bert_tokenizer}/tokenizer.json"),
                "CLS q SEP SEP c SEP".into(),
            ],
        ),
    ];
    for (model, tokenizer, says) in cases {
        let run = distil(
            work.path(),
            &[
                "finetune",
                "squad",
                "--version",
                "2.0",
                "--model",
                model,
                "--tokenizer",
                tokenizer,
                "--set",
                "data.dev_train_share=0.5",
                "--set",
                "features.max_seq_length=62",
                "--set",
                "features.max_query_length=24",
                "--set",
                "output.dir=runs",
            ],
        );
        assert!(!run.status.success(), "{model} with {tokenizer}");
        let said = stderr(&run);
        for part in &says {
            assert!(said.contains(part.as_str()), "{part:?} not in {said}");
        }
        assert_eq!(said.trim().lines().count(), 1, "{said}");
    }
}
