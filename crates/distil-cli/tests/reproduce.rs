//! `distil reproduce` end to end at micro scale: every stage runs, the report's tables parse
//! and agree with results.json, and a second run skips every finished stage.

// Test helpers unwrap like the tests they serve.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use distil_testkit::repo_path;

fn config(out: &Path) -> String {
    let r = |p: &str| repo_path(p).display().to_string();
    format!(
        r#"run_name: micro
output_dir: {out}
corpus:
  inputs: [{blake}]
  unit: paragraph
  train_vocab: {{vocab_size: 300}}
  max_seq_len: 32
  shard_tokens: 1000000
data: {{batch_size: 4, shuffle_buffer: 50}}
teacher:
  source: null
  pretrain:
    hidden_size: 16
    num_hidden_layers: 2
    num_attention_heads: 2
    intermediate_size: 32
    masking: {{strategy: uniform}}
    train:
      optimizer: {{grad_accumulation: 1}}
      training: {{max_steps: 2, device: cpu}}
      log_interval: 1
student: {{teacher_layers: [0]}}
distill:
  optimizer: {{grad_accumulation: 1}}
  training: {{max_steps: 2, device: cpu}}
  log_interval: 1
finetune:
  glue_dir: {glue}
  tasks: [rte]
  seeds: [1]
  max_train_examples: 8
  max_eval_examples: 8
  features: {{max_seq_length: 32}}
  training: {{epochs: 1, train_batch_size: 4, logging_steps: 1}}
squad:
  version: "1.1"
  data: {{train_file: null, dev_file: {squad}, dev_train_share: 0.5, max_train_examples: 8, max_eval_examples: 8}}
  features: {{max_seq_length: 32, doc_stride: 16, max_query_length: 8}}
  training: {{epochs: 1, train_batch_size: 4, logging_steps: 1}}
  distillation: {{alpha_task: 0.5, alpha_ce: 0.5, temperature: 2.0}}
ablations: true
bench: {{sts_b_dev: {stsb}, max_examples: 3}}
"#,
        out = out.display(),
        blake = r("data/text/books/nltk-gutenberg/blake-poems.txt"),
        glue = r("data/glue"),
        stsb = r("data/glue/STS-B/dev.tsv"),
        squad = r("data/squad/dev-v2.0-first5articles.json"),
    )
}

fn reproduce(config: &Path) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_distil"))
        .args(["--device", "cpu", "reproduce", "--config"])
        .arg(config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(output.status.success(), "{stderr}");
    stderr
}

/// The markdown table under `heading`: header cells and rows of cells.
fn table(report: &str, heading: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let start = report.find(heading).unwrap();
    let lines: Vec<Vec<String>> = report[start..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect();
    assert!(
        lines.len() >= 2 && lines[1].iter().all(|c| c == "---"),
        "{heading}"
    );
    (lines[0].clone(), lines[2..].to_vec())
}

fn cell(rows: &[Vec<String>], label: &str, column: usize) -> f64 {
    let row = rows.iter().find(|r| r[0] == label).unwrap();
    row[column].trim_start_matches('+').parse().unwrap()
}

#[test]
fn micro_reproduction_reports_parseable_tables_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("micro.yaml");
    std::fs::write(&config_path, config(dir.path())).unwrap();
    reproduce(&config_path);

    let run = dir.path().join("micro");
    let report = std::fs::read_to_string(run.join("report.md")).unwrap();
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("results.json")).unwrap()).unwrap();

    let (header, rows) = table(&report, "## Table 1");
    assert_eq!(header, ["Model", "Score", "rte", "Seed spread"]);
    for (label, model) in [
        ("Teacher (ours)", "teacher"),
        ("Student (ours)", "student"),
        ("No pretraining (ours)", "no-pretraining"),
    ] {
        let median = results["glue"][model]["rte"]["median"].as_f64().unwrap();
        assert!((0.0..=100.0).contains(&median));
        assert!((cell(&rows, label, 2) - median).abs() < 0.051, "{label}");
        let macro_score = results["macro_scores"][model].as_f64().unwrap();
        assert!(
            (cell(&rows, label, 1) - macro_score).abs() < 0.051,
            "{label}"
        );
    }
    assert_eq!(cell(&rows, "BERT-base (paper)", 2), 69.3);
    let majority = results["majority"]["rte"].as_f64().unwrap();
    assert!((cell(&rows, "Majority class (ours)", 2) - majority).abs() < 0.051);
    // The first 8 RTE train pairs tie 4-4, so the majority is class 0 (entailment), which 5
    // of the first 8 dev pairs are.
    assert!((majority - 62.5).abs() < 1e-9, "{majority}");

    // The vocabulary trained on the corpus is every model's and its shards'.
    let vocab = std::fs::read_to_string(run.join("vocab/vocab.txt")).unwrap();
    assert_eq!(vocab.lines().count(), 300);
    let teacher_config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("teacher/config.json")).unwrap()).unwrap();
    assert_eq!(teacher_config["vocab_size"], 300);
    assert!(run.join("teacher/vocab.txt").is_file());

    let (_, rows) = table(&report, "## Table 2");
    for (label, model) in [
        ("Teacher (ours)", "teacher"),
        ("Student (ours)", "student"),
        ("Student (D) (ours)", "student-d"),
    ] {
        let squad = &results["squad"][model];
        assert_eq!(squad["seeds"].as_object().unwrap().len(), 1, "{model}");
        for (column, key) in [(1, "exact_match"), (2, "f1")] {
            let value = squad[key].as_f64().unwrap();
            assert!((0.0..=100.0).contains(&value), "{model} {key}");
            assert!(
                (cell(&rows, label, column) - value).abs() < 0.051,
                "{label}"
            );
        }
    }
    assert_eq!(cell(&rows, "DistilBERT (D) (paper)", 2), 86.9);
    assert!(report.contains("these are not SQuAD dev scores"));

    let (_, rows) = table(&report, "## Table 3");
    for (label, model) in [("Teacher (ours)", "teacher"), ("Student (ours)", "student")] {
        let params = results["size_speed"][model]["parameters"].as_f64().unwrap();
        assert!(
            (cell(&rows, label, 1) - params / 1e6).abs() < 0.006,
            "{label}"
        );
        assert_eq!(results["size_speed"][model]["examples"], 3);
    }

    let (_, rows) = table(&report, "## Table 4");
    let ablations = results["ablations"].as_array().unwrap();
    assert_eq!(ablations.len(), 4);
    for a in ablations {
        let name = a["name"].as_str().unwrap();
        assert!((cell(&rows, name, 2) - a["delta"].as_f64().unwrap()).abs() < 0.006);
        assert_eq!(cell(&rows, name, 3), a["paper_delta"].as_f64().unwrap());
    }
    for png in ["glue-scores.png", "loss-teacher.png", "loss-student.png"] {
        let bytes = std::fs::read(run.join("plots").join(png)).unwrap();
        assert_eq!(&bytes[1..4], b"PNG", "{png}");
    }

    // A second run skips every stage: the markers and model files are left untouched.
    let markers: Vec<_> = std::fs::read_dir(run.join("stages"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let stamp = |p: &Path| std::fs::metadata(p).unwrap().modified().unwrap();
    let before: Vec<_> = markers.iter().map(|p| stamp(p)).collect();
    let teacher_weights = run.join("teacher/model.safetensors");
    let weights_before = stamp(&teacher_weights);
    let log = reproduce(&config_path);
    assert_eq!(log.matches("skipped ").count(), markers.len(), "{log}");
    assert!(!log.lines().any(|l| l.starts_with("finished ")), "{log}");
    let after: Vec<_> = markers.iter().map(|p| stamp(p)).collect();
    assert_eq!(before, after);
    assert_eq!(weights_before, stamp(&teacher_weights));
}

/// The micro config on the real all-MiniLM-L6-v2, which ships without an MLM head: the head is
/// fitted first and scored on held-out text, the student and ablations distil from the fitted
/// teacher, and GLUE has every baseline.
#[test]
fn micro_reproduction_on_a_bare_encoder_fits_its_head_and_adds_every_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let encoder = distil_testkit::hf_parity::required_env_dir("DISTIL_MINILM_DIR");
    let r = |p: &str| repo_path(p).display().to_string();
    // The head is fitted on one part of a book and scored on a later part.
    let book = std::fs::read_to_string(repo_path(
        "data/text/books/gutenberg/pg11-carroll-alice-in-wonderland.txt",
    ))
    .unwrap();
    let lines: Vec<&str> = book.lines().collect();
    let (corpus, held_out) = (
        dir.path().join("corpus.txt"),
        dir.path().join("held-out.txt"),
    );
    std::fs::write(&corpus, lines[..1200].join("\n")).unwrap();
    std::fs::write(&held_out, lines[1200..1800].join("\n")).unwrap();
    let mut text = config(dir.path());
    // The scratch teacher's section gives way to the bare encoder and its head fit.
    let start = text.find("teacher:\n").unwrap();
    let end = text.find("student:").unwrap();
    text.replace_range(
        start..end,
        &format!(
            "teacher:\n  source: {}\n  fit_head:\n    data: {{batch_size: 16, shuffle_buffer: 500, masking: {{strategy: uniform}}}}\n    eval_batches: 8\n    training: {{steps: 80, learning_rate: 5.0e-3}}\n",
            encoder.display()
        ),
    );
    text = text
        .replace(
            "  train_vocab: {vocab_size: 300}\n",
            &format!(
                "  tokenizer: {}\n  held_out: [{}]\n",
                encoder.display(),
                held_out.display()
            ),
        )
        .replace(
            &r("data/text/books/nltk-gutenberg/blake-poems.txt"),
            &corpus.display().to_string(),
        )
        .replace("  unit: paragraph\n", "  unit: line\n")
        .replace("  max_seq_len: 32\n", "  max_seq_len: 64\n")
        .replace("run_name: micro", "run_name: bare")
        .replace("squad:\n", "squad_unused:\n");
    let squad_start = text.find("squad_unused:").unwrap();
    let squad_end = text.find("ablations:").unwrap();
    text.replace_range(squad_start..squad_end, "squad: null\n");
    let config_path = dir.path().join("bare.yaml");
    std::fs::write(&config_path, text).unwrap();
    reproduce(&config_path);

    let run = dir.path().join("bare");
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("results.json")).unwrap()).unwrap();
    let head = &results["head_fit"];
    assert_eq!(head["steps"], 80);
    assert!(head["head_loss"].as_f64().unwrap() < head["unigram_loss"].as_f64().unwrap());
    let fitted: serde_json::Value = serde_json::from_slice(
        &std::fs::read(run.join("teacher-head/teacher/config.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(fitted["architectures"][0], "BertForMaskedLM");
    for model in [
        "teacher",
        "student",
        "no-distillation",
        "no-pretraining",
        "no-ce",
        "random-init",
    ] {
        let median = results["glue"][model]["rte"]["median"].as_f64().unwrap();
        assert!((0.0..=100.0).contains(&median), "{model}");
        assert!(results["macro_spread"][model].as_f64().unwrap() >= 0.0);
    }
    // The student's encoder FLOPs: 1 of the teacher's 6 layers.
    let flops = &results["encoder_flops_per_token"];
    let ratio = flops["student"].as_f64().unwrap() / flops["teacher"].as_f64().unwrap();
    assert!((ratio - 1.0 / 6.0).abs() < 1e-12, "{ratio}");
    let report = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(report.contains("No distillation (ours)"), "{report}");
}
