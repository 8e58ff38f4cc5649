//! Fine-tuning and evaluation runs end to end on CPU with the tiny fixture models: a GLUE
//! fine-tune that learns, a task-distillation run with a BERT teacher, SQuAD runs (BERT-style
//! and RoBERTa) whose predictions the official evaluator scores, and reloading the saved
//! models, in distil and in `transformers`.

// Test helpers unwrap like the tests they serve.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use distil_data::load_tokenizer;
use distil_tasks::finetune::{
    eval_glue, eval_squad, finetune_glue, finetune_squad, GlueRunConfig, HeadState, LoopOptions,
    RunConfig, SpanExtractor, SquadRunConfig,
};
use distil_tasks::squad::{
    decode_answers, evaluate, DocStrideMode, FeatureLogits, PairLayout, QaBatch, SquadFeature,
    SquadFeaturizer, SquadVersion,
};
use distil_tasks::{GlueTask, SegmentIds};
use distil_testkit::{fixture, fixture_arg, read_json, repo_path};
use distil_train::Interrupt;
use tch::{Device, Tensor};

/// Runs seed libtorch's one global generator: tests that train must not run side by side,
/// or one consumes the other's random numbers and the seeded results change.
fn torch_rng() -> MutexGuard<'static, ()> {
    static TORCH_RNG: Mutex<()> = Mutex::new(());
    TORCH_RNG
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn options() -> LoopOptions {
    // The fixture models are tiny: thread hand-offs cost more than they save, above all on
    // a loaded 2-core CI machine.
    tch::set_num_threads(1);
    LoopOptions {
        resume: false,
        quiet: true,
        interrupt: Interrupt::manual(),
    }
}

/// A GLUE run of the fixture `model` with the fixture `tokenizer` on sequences of 64 tokens,
/// writing below `out`.
fn glue_config(model: &str, tokenizer: &str, out: &Path) -> GlueRunConfig {
    let mut config = GlueRunConfig::default();
    config.model.source = Some(fixture_arg(model));
    config.model.tokenizer = Some(fixture_arg(tokenizer));
    config.features.max_seq_length = 64;
    config.output.dir = out.to_path_buf();
    config
}

/// The MNLI rows shipped with these tests.
fn mnli_dir() -> PathBuf {
    repo_path("crates/distil-tasks/tests/data/glue/MNLI")
}

/// Writes an SST-2 folder from the shipped train file: `train` rows to train on, the next
/// `dev` rows as a held-out dev set, and a 5-row test file.
fn sst2_slice(dir: &Path, train: usize, dev: usize) -> Vec<usize> {
    let text = std::fs::read_to_string(repo_path("data/glue/SST-2/train.tsv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.take(train + dev).collect();
    let write = |name: &str, rows: &[&str]| {
        std::fs::write(dir.join(name), format!("{header}\n{}\n", rows.join("\n"))).unwrap();
    };
    write("train.tsv", &rows[..train]);
    write("dev.tsv", &rows[train..]);
    let test: Vec<String> = rows[..5]
        .iter()
        .enumerate()
        .map(|(i, r)| format!("{i}\t{}", r.split('\t').next().unwrap()))
        .collect();
    std::fs::write(
        dir.join("test.tsv"),
        format!("index\tsentence\n{}\n", test.join("\n")),
    )
    .unwrap();
    rows[train..]
        .iter()
        .map(|r| r.rsplit('\t').next().unwrap().parse().unwrap())
        .collect()
}

#[test]
fn a_tiny_sst2_fine_tune_beats_the_majority_class_and_reloads() {
    let _rng = torch_rng();
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("SST-2");
    std::fs::create_dir_all(&data).unwrap();
    let dev_labels = sst2_slice(&data, 2400, 400);
    let positives = dev_labels.iter().filter(|&&l| l == 1).count() as f64;
    let majority = positives.max(dev_labels.len() as f64 - positives) / dev_labels.len() as f64;

    let mut config = glue_config(
        "distilbert-seqcls",
        "distilbert-mlm",
        &work.path().join("experiments"),
    );
    config.data.dir = Some(data);
    config.training.train_batch_size = 32;
    config.training.learning_rate = 1e-3;
    config.training.epochs = 3;
    config.output.run_name = Some("sst2".into());
    let summary = finetune_glue(GlueTask::Sst2, &config, Device::Cpu, &options()).unwrap();
    let accuracy = summary.metrics["acc"];
    eprintln!("dev accuracy {accuracy:.4}, majority class {majority:.4}");
    assert!(
        accuracy > majority + 0.03,
        "dev accuracy {accuracy:.3} does not beat the majority class {majority:.3}"
    );

    let run = &summary.dir;
    let results = read_json(&run.join("results.json"));
    assert_eq!(results["metrics"]["acc"].as_f64().unwrap(), accuracy);
    // The best of three epochs is the one kept and reported.
    let epochs: Vec<f64> = std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["eval/acc"].as_f64())
        .collect();
    assert_eq!(epochs.len(), 3);
    assert_eq!(epochs.iter().copied().fold(f64::MIN, f64::max), accuracy);
    let predictions = std::fs::read_to_string(run.join("predictions/dev.tsv")).unwrap();
    assert_eq!(predictions.lines().count(), 401);
    let submission = std::fs::read_to_string(run.join("submission/SST-2.tsv")).unwrap();
    assert_eq!(submission.lines().next(), Some("index\tprediction"));
    assert_eq!(submission.lines().count(), 6);
    for file in ["config.yaml", "model/config.json", "model/tokenizer.json"] {
        assert!(run.join(file).is_file(), "{file} is missing");
    }
    let saved = read_json(&run.join("model/config.json"));
    assert_eq!(
        saved["architectures"][0],
        "DistilBertForSequenceClassification"
    );
    assert_eq!(saved["id2label"].as_object().unwrap().len(), 2);

    // The saved directory evaluates to the same score, without a --tokenizer.
    let mut eval = config.clone();
    eval.model.source = Some(run.join("model").display().to_string());
    eval.model.tokenizer = None;
    eval.output.run_name = Some("sst2-eval".into());
    let again = eval_glue(GlueTask::Sst2, &eval, Device::Cpu).unwrap();
    assert!((again.metrics["acc"] - accuracy).abs() < 1e-12);
}

#[test]
fn scoring_only_the_last_epoch_logs_one_evaluation_that_a_reevaluation_repeats() {
    let _rng = torch_rng();
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("SST-2");
    std::fs::create_dir_all(&data).unwrap();
    sst2_slice(&data, 300, 100);
    let mut config = glue_config(
        "distilbert-seqcls",
        "distilbert-mlm",
        &work.path().join("experiments"),
    );
    config.data.dir = Some(data);
    config.training.train_batch_size = 32;
    config.training.learning_rate = 1e-3;
    config.training.epochs = 2;
    config.training.keep_best = false;
    config.training.evaluate_each_epoch = false;
    config.output.run_name = Some("last".into());
    let summary = finetune_glue(GlueTask::Sst2, &config, Device::Cpu, &options()).unwrap();
    let evaluations: Vec<(f64, f64)> = std::fs::read_to_string(summary.dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| Some((v["epoch"].as_f64()?, v["eval/acc"].as_f64()?)))
        .collect();
    assert_eq!(evaluations, [(2.0, summary.metrics["acc"])]);

    // The run's reported score is the saved model's.
    let mut eval = config.clone();
    eval.model.source = Some(summary.dir.join("model").display().to_string());
    eval.model.tokenizer = None;
    eval.output.run_name = Some("last-eval".into());
    let again = eval_glue(GlueTask::Sst2, &eval, Device::Cpu).unwrap();
    assert!((again.metrics["acc"] - summary.metrics["acc"]).abs() < 1e-12);

    // Picking the best epoch needs every epoch scored.
    config.training.keep_best = true;
    let err = config.validate().unwrap_err();
    assert_eq!(err.key, "training.evaluate_each_epoch");
}

#[test]
fn mnli_distillation_from_a_bert_teacher_writes_matched_and_mismatched_results() {
    let _rng = torch_rng();
    let work = tempfile::tempdir().unwrap();
    // Both fixtures have 3-label heads, so the student's head loads and the teacher's is
    // a trained one.
    let mut config = glue_config("distilbert-seqcls", "distilbert-mlm", work.path());
    config.model.teacher = Some(fixture_arg("bert-seqcls"));
    config.data.dir = Some(mnli_dir());
    config.training.epochs = 1;
    config.training.logging_steps = 1;
    config.output.run_name = Some("mnli-kd".into());
    let summary = finetune_glue(GlueTask::Mnli, &config, Device::Cpu, &options()).unwrap();
    assert!(summary.metrics.contains_key("mnli/acc"));
    assert!(summary.metrics.contains_key("mnli-mm/acc"));
    for file in ["predictions/dev.tsv", "predictions/dev_mismatched.tsv"] {
        assert!(summary.dir.join(file).is_file(), "{file}");
    }
    for file in ["submission/MNLI-m.tsv", "submission/MNLI-mm.tsv"] {
        assert!(summary.dir.join(file).is_file(), "{file}");
    }
    let logged = std::fs::read_to_string(summary.dir.join("metrics.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(logged.lines().next().unwrap()).unwrap();
    let (total, task, ce) = (
        first["loss"].as_f64().unwrap(),
        first["loss_task"].as_f64().unwrap(),
        first["loss_ce"].as_f64().unwrap(),
    );
    assert!((total - (0.5 * task + 0.5 * ce)).abs() < 1e-5, "{first}");
    assert!(ce > 0.0);
}

#[test]
fn a_tiny_squad_run_writes_predictions_the_evaluator_scores() {
    let _rng = torch_rng();
    let work = tempfile::tempdir().unwrap();
    let mut config = SquadRunConfig {
        version: SquadVersion::V2,
        ..SquadRunConfig::default()
    };
    config.model.source = Some(fixture_arg("distilbert-qa"));
    config.model.tokenizer = Some(fixture_arg("distilbert-mlm"));
    config.data.dev_file = repo_path("data/squad/dev-v2.0-first5articles.json");
    config.data.dev_train_share = Some(0.5);
    config.data.max_train_examples = Some(40);
    config.data.max_eval_examples = Some(30);
    config.features.max_seq_length = 64;
    config.features.max_query_length = 16;
    config.features.doc_stride = 24;
    config.training.epochs = 1;
    config.training.train_batch_size = 16;
    config.output.dir = work.path().to_path_buf();
    config.output.run_name = Some("squad".into());
    let summary = finetune_squad(&config, Device::Cpu, &options()).unwrap();

    let predictions: BTreeMap<String, String> =
        serde_json::from_slice(&std::fs::read(summary.dir.join("predictions.json")).unwrap())
            .unwrap();
    let null_odds: BTreeMap<String, f64> =
        serde_json::from_slice(&std::fs::read(summary.dir.join("null_odds.json")).unwrap())
            .unwrap();
    let splits = config.data.load(SquadVersion::V2, true).unwrap();
    assert_eq!(splits.eval.len(), 30);
    assert_eq!(predictions.len(), 30);
    for example in &splits.eval {
        assert!(predictions.contains_key(&example.id), "{}", example.id);
    }
    // No question of the evaluated paragraphs was trained on.
    let train_paragraphs: Vec<usize> = splits.train.iter().map(|e| e.paragraph).collect();
    assert!(splits
        .eval
        .iter()
        .all(|e| !train_paragraphs.contains(&e.paragraph)));

    let rescored = evaluate(
        &splits.eval,
        &predictions,
        Some(&null_odds),
        SquadVersion::V2,
    );
    let results = read_json(&summary.dir.join("results.json"));
    for (key, value) in [
        ("exact", rescored.all.exact),
        ("f1", rescored.all.f1),
        ("best_f1", rescored.best_f1.unwrap().0),
    ] {
        let reported = results[key].as_f64().unwrap();
        assert!((0.0..=100.0).contains(&reported), "{key} {reported}");
        assert!(
            (reported - value).abs() < 1e-9,
            "{key}: {reported} vs {value}"
        );
    }
    assert_eq!(
        results["HasAns_total"].as_u64().unwrap() + results["NoAns_total"].as_u64().unwrap(),
        30
    );

    let mut eval = config.clone();
    eval.model.source = Some(summary.dir.join("model").display().to_string());
    eval.model.tokenizer = None;
    eval.data.dev_train_share = None;
    eval.output.run_name = Some("squad-eval".into());
    let again = eval_squad(&eval, Device::Cpu).unwrap();
    assert!(again.metrics.contains_key("HasAns_f1"));
    assert!(again.dir.join("predictions.json").is_file());
}

/// The `loss` of every line of a run's `metrics.jsonl` that has one, in step order.
fn logged_losses(run: &Path) -> Vec<f64> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["loss"].as_f64())
        .collect()
}

/// `scripts/check_export.py --qa-logits`: `model` loads in `transformers`'
/// `AutoModelForQuestionAnswering` with every weight, and gives the start and end logits
/// that `batch` and `logits` hold (distil's, within 1e-5).
fn assert_qa_logits_match_transformers(model: &Path, batch: &QaBatch, logits: (&Tensor, &Tensor)) {
    let venv = std::env::var("DISTIL_VENV").expect("DISTIL_VENV (scripts/test.sh sets it)");
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("qa-logits.safetensors");
    let named = [
        ("input_ids", &batch.inputs.input_ids),
        ("attention_mask", &batch.inputs.attention_mask),
        ("start_logits", logits.0),
        ("end_logits", logits.1),
    ];
    Tensor::write_safetensors(&named, &file).unwrap();
    let check = std::process::Command::new(Path::new(&venv).join("bin/python"))
        .arg(repo_path("scripts/check_export.py"))
        .arg("--qa-logits")
        .arg(&file)
        .arg("--model")
        .arg(model)
        .env("OMP_NUM_THREADS", "1")
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(check.status.success(), "check_export: {said}");
    eprint!("check_export: {said}");
    assert!(
        said.contains("OK") && said.contains("RobertaForQuestionAnswering"),
        "{said}"
    );
}

/// A RoBERTa reader (`<s> q </s></s> c </s>`, no segment ids, pad id 1) fine-tunes on a few
/// shipped questions: the loss falls, predictions and scores are written, and the saved
/// folder is an HF `RobertaForQuestionAnswering` that reproduces the run's answers in distil
/// and its logits in `transformers`.
#[test]
fn a_roberta_squad_run_learns_and_its_saved_folder_loads_in_transformers() {
    let _rng = torch_rng();
    let work = tempfile::tempdir().unwrap();
    let mut config = SquadRunConfig {
        version: SquadVersion::V1,
        ..SquadRunConfig::default()
    };
    config.model.source = Some(fixture_arg("roberta-qa"));
    config.model.tokenizer = Some(fixture_arg("roberta-mlm"));
    config.data.dev_file = repo_path("data/squad/dev-v2.0-first5articles.json");
    config.data.dev_train_share = Some(0.5);
    config.data.max_train_examples = Some(16);
    config.data.max_eval_examples = Some(12);
    // The fixture's 64-row position table holds 62 tokens (RoBERTa reserves two rows).
    config.features.max_seq_length = 62;
    config.features.max_query_length = 24;
    config.features.doc_stride = 18;
    config.features.doc_stride_mode = DocStrideMode::Overlap;
    config.training.epochs = 3;
    config.training.train_batch_size = 16;
    config.training.learning_rate = 1e-3;
    config.training.logging_steps = 1;
    config.output.dir = work.path().to_path_buf();
    config.output.run_name = Some("roberta-squad".into());
    let summary = finetune_squad(&config, Device::Cpu, &options()).unwrap();

    let losses = logged_losses(&summary.dir);
    assert!(losses.len() >= 12, "{losses:?}");
    let mean = |l: &[f64]| l.iter().sum::<f64>() / l.len() as f64;
    let (first, last) = (mean(&losses[..4]), mean(&losses[losses.len() - 4..]));
    eprintln!(
        "{} steps: mean loss of the first 4 {first:.4}, last 4 {last:.4}",
        losses.len()
    );
    assert!(
        last < 0.8 * first,
        "loss did not fall: first {first}, last {last}"
    );

    let splits = config.data.load(SquadVersion::V1, true).unwrap();
    assert_eq!(splits.eval.len(), 12);
    let predictions: BTreeMap<String, String> =
        serde_json::from_slice(&std::fs::read(summary.dir.join("predictions.json")).unwrap())
            .unwrap();
    assert_eq!(predictions.len(), 12);
    for example in &splits.eval {
        // Every answer is a piece of its own context, cut through the offsets.
        assert!(
            example.context.contains(&predictions[&example.id]),
            "{}",
            example.id
        );
    }
    let rescored = evaluate(&splits.eval, &predictions, None, SquadVersion::V1);
    let results = read_json(&summary.dir.join("results.json"));
    for (key, value) in [("exact_match", rescored.all.exact), ("f1", rescored.all.f1)] {
        let reported = results[key].as_f64().unwrap();
        assert!(
            (reported - value).abs() < 1e-9,
            "{key}: {reported} vs {value}"
        );
    }
    assert!(summary.dir.join("nbest_predictions.json").is_file());

    // The saved folder: an HF RoBERTa QA model with the tokenizer beside it.
    let saved = summary.dir.join("model");
    let saved_config = read_json(&saved.join("config.json"));
    assert_eq!(saved_config["model_type"], "roberta");
    assert_eq!(
        saved_config["architectures"],
        serde_json::json!(["RobertaForQuestionAnswering"])
    );
    assert!(saved.join("tokenizer.json").is_file());
    let reloaded = SpanExtractor::load(&saved, Device::Cpu).unwrap();
    assert_eq!(reloaded.head, HeadState::Loaded);
    assert!(reloaded.report.unexpected.is_empty(), "{}", reloaded.report);
    assert_eq!(reloaded.model.layout(), PairLayout::ROBERTA);

    // Its logits on the run's evaluation windows decode to the run's answers.
    let tokenizer = load_tokenizer(saved.to_str().unwrap()).unwrap();
    let featurizer =
        SquadFeaturizer::new(&tokenizer, PairLayout::ROBERTA, &config.features).unwrap();
    let features = featurizer.build(&splits.eval).unwrap();
    let refs: Vec<&SquadFeature> = features.iter().collect();
    let batch = QaBatch::collate(&refs, featurizer.pad_id(), SegmentIds::Drop);
    let (start, end) = tch::no_grad(|| reloaded.model.logits(&batch.inputs.encoder_input(), false));
    let again = decode_answers(
        &splits.eval,
        &features,
        &FeatureLogits::from_batch(&start, &end).unwrap(),
        SquadVersion::V1,
        &config.decode,
    )
    .unwrap();
    assert_eq!(again.answers, predictions);

    assert_qa_logits_match_transformers(&saved, &batch, (&start, &end));

    // The saved folder evaluates on its own, without a --tokenizer.
    let mut eval = config.clone();
    eval.model.source = Some(saved.display().to_string());
    eval.model.tokenizer = None;
    eval.output.run_name = Some("roberta-squad-eval".into());
    let evaluated = eval_squad(&eval, Device::Cpu).unwrap();
    assert!(evaluated.metrics.contains_key("f1"));
}

/// A RoBERTa checkpoint without `qa_outputs` (the MLM fixture) gets a fresh span head, as
/// BERT's and DistilBERT's do, and cannot be evaluated as it is.
#[test]
fn a_roberta_without_qa_outputs_gets_a_fresh_span_head() {
    let loaded = SpanExtractor::load(&fixture("roberta-mlm"), Device::Cpu).unwrap();
    match &loaded.head {
        HeadState::Fresh(reason) => assert!(reason.contains("qa_outputs.weight"), "{reason}"),
        HeadState::Loaded => panic!("the MLM fixture has no qa_outputs"),
    }
    let err = loaded
        .require_trained_head("question-answering")
        .unwrap_err();
    assert!(err.to_string().contains("roberta-mlm"), "{err}");
}

#[test]
fn evaluating_a_model_without_a_trained_head_is_refused() {
    let work = tempfile::tempdir().unwrap();
    // A 3-label head cannot serve SST-2's 2 labels.
    let config = glue_config("distilbert-seqcls", "distilbert-mlm", work.path());
    tch::set_num_threads(1);
    let err = eval_glue(GlueTask::Sst2, &config, Device::Cpu).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("3 outputs"), "{message}");
    assert!(message.contains("distilbert-seqcls"), "{message}");
}

#[test]
fn an_interrupted_run_resumes_to_the_same_model_as_an_uninterrupted_one() {
    let _rng = torch_rng();
    let work = tempfile::tempdir().unwrap();
    let mut config = glue_config("bert-seqcls", "bert-mlm", work.path());
    config.data.dir = Some(mnli_dir());
    config.training.epochs = 2;
    config.training.train_batch_size = 1;
    config.training.learning_rate = 1e-3;

    config.output.run_name = Some("straight".into());
    let straight = finetune_glue(GlueTask::Mnli, &config, Device::Cpu, &options()).unwrap();

    config.output.run_name = Some("interrupted".into());
    let stop = options();
    // Ctrl-C before the first step: the loop checkpoints after it and stops.
    stop.interrupt.request();
    let first = finetune_glue(GlueTask::Mnli, &config, Device::Cpu, &stop).unwrap();
    assert!(first.interrupted);
    assert!(!first.dir.join("model").exists());
    let resume = LoopOptions {
        resume: true,
        ..options()
    };
    let resumed = finetune_glue(GlueTask::Mnli, &config, Device::Cpu, &resume).unwrap();
    assert!(!resumed.interrupted);
    assert_eq!(resumed.metrics, straight.metrics);

    let weights = |dir: &Path| {
        distil_core::checkpoint::read_tensors(&dir.join("model/model.safetensors")).unwrap()
    };
    let (a, b) = (weights(&straight.dir), weights(&resumed.dir));
    assert_eq!(a.len(), b.len());
    for (name, tensor) in &a {
        assert!(tensor.equal(&b[name]), "{name} differs after resuming");
    }
    // The resumed log reads as one run: steps 1..=6 once each, two evaluations.
    let log = std::fs::read_to_string(resumed.dir.join("metrics.jsonl")).unwrap();
    let evals = log.lines().filter(|l| l.contains("eval/")).count();
    assert_eq!(evals, 2);
}
