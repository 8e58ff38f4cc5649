//! The distillation run config: the shipped recipe, one-line errors that name the key, `--set`
//! overrides and the teacher/student compatibility check.

#![allow(clippy::unwrap_used)] // tests fail loudly on bad fixtures

use std::path::{Path, PathBuf};

use distil_core::config::parse_config;
use distil_core::DeviceSpec;
use distil_train::config::StudentInit;
use distil_train::{check_compatibility, DistillConfig, LossConfig, ModelDims, TrainingPrecision};

fn shipped() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../configs/distill/distilbert-base-uncased.yaml")
}

/// The one key without a default (the shards directory), then the test's overrides.
fn load_text(text: &str, overrides: &[&str]) -> Result<DistillConfig, String> {
    let overrides: Vec<String> = std::iter::once("data.shards=shards")
        .chain(overrides.iter().copied())
        .map(str::to_string)
        .collect();
    let path = Path::new("run.yaml");
    let cfg: DistillConfig = parse_config(text, path, &overrides).map_err(|e| e.to_string())?;
    cfg.validate().map_err(|e| e.in_file(path).to_string())?;
    Ok(cfg)
}

fn one_line_naming(err: &str, key: &str) {
    assert!(!err.contains('\n'), "not one line: {err}");
    assert!(
        err.contains(&format!("`{key}`")),
        "does not name `{key}`: {err}"
    );
    assert!(err.contains("run.yaml"), "does not name the file: {err}");
}

/// The other families' recipes: the DistilBERT defaults but for the teacher, the shards and,
/// for GPT-2, the causal-LM term in the masked-LM term's place.
#[test]
fn the_distilroberta_and_distilgpt2_recipes_parse_and_validate() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../configs/distill");
    for (file, teacher, alpha_mlm, alpha_clm) in [
        ("distilroberta-base.yaml", "roberta-base", 2.0, 0.0),
        ("distilgpt2.yaml", "gpt2", 0.0, 2.0),
    ] {
        let cfg = DistillConfig::load(&dir.join(file), &[]).unwrap();
        assert_eq!(String::from(cfg.teacher.source.clone()), teacher, "{file}");
        assert_eq!(cfg.student.teacher_layers, [0, 2, 4, 7, 9, 11], "{file}");
        assert!(cfg.student.freeze_position_embeddings, "{file}");
        let loss = &cfg.loss;
        assert_eq!(
            (
                loss.alpha_ce,
                loss.alpha_mlm,
                loss.alpha_clm,
                loss.alpha_cos
            ),
            (5.0, alpha_mlm, alpha_clm, 1.0),
            "{file}"
        );
        let defaults = DistillConfig::default();
        assert_eq!(cfg.optimizer, defaults.optimizer, "{file}");
        assert_eq!(cfg.training, defaults.training, "{file}");
    }
}

#[test]
fn masked_and_causal_lm_weights_exclude_each_other() {
    let err = load_text("loss:\n  alpha_clm: 1.0\n", &[]).unwrap_err();
    one_line_naming(&err, "loss.alpha_clm");
    assert!(err.contains("not both"), "{err}");
    let causal = load_text("loss:\n  alpha_mlm: 0.0\n  alpha_clm: 1.0\n", &[]).unwrap();
    assert_eq!(causal.loss.alpha_clm, 1.0);
    // A weight left at 0 is not written, so runs without it keep their stage hashes.
    let text = serde_yaml::to_string(&DistillConfig::default()).unwrap();
    assert!(!text.contains("alpha_clm"), "{text}");
}

#[test]
fn pooled_term_keys_parse_take_set_and_are_saved_only_when_used() {
    use distil_train::loss::PooledDistance;
    let defaults = LossConfig::default();
    assert_eq!(defaults.alpha_pooled, 0.0);
    assert_eq!(defaults.pooled_distance, PooledDistance::Mse);
    let cfg = load_text(
        "loss:\n  alpha_pooled: 0.5\n  pooled_distance: cosine\n",
        &[],
    )
    .unwrap();
    assert_eq!(cfg.loss.alpha_pooled, 0.5);
    assert_eq!(cfg.loss.pooled_distance, PooledDistance::Cosine);
    let cfg = load_text(
        "",
        &["loss.alpha_pooled=1.0", "loss.pooled_distance=cosine"],
    )
    .unwrap();
    assert_eq!(cfg.loss.alpha_pooled, 1.0);
    assert_eq!(cfg.loss.pooled_distance, PooledDistance::Cosine);
    // The pooled term alone is a valid loss.
    let alone = "loss: {alpha_ce: 0, alpha_mlm: 0, alpha_cos: 0, alpha_pooled: 1}\n";
    assert_eq!(load_text(alone, &[]).unwrap().loss.alpha_pooled, 1.0);

    let err = load_text("", &["loss.pooled_distance=l1"]).unwrap_err();
    one_line_naming(&err, "loss.pooled_distance");
    let err = load_text("", &["loss.alpha_pooled=-1"]).unwrap_err();
    one_line_naming(&err, "loss.alpha_pooled");
    let err = load_text(
        "loss: {alpha_ce: 0, alpha_mlm: 0, alpha_cos: 0, alpha_pooled: 0}\n",
        &[],
    )
    .unwrap_err();
    assert!(err.contains("alpha_pooled"), "{err}");

    // Unused, the keys are not written: a config that leaves them out (or at their defaults)
    // saves as it did before they existed, so run configs and stage hashes keep their text.
    let text = serde_yaml::to_string(&DistillConfig::default()).unwrap();
    assert!(!text.contains("pooled"), "{text}");
    let explicit = load_text("loss: {alpha_pooled: 0.0, pooled_distance: mse}\n", &[]).unwrap();
    let unused = load_text("", &[]).unwrap();
    assert_eq!(
        serde_yaml::to_string(&explicit).unwrap(),
        serde_yaml::to_string(&unused).unwrap()
    );
    // Used, they are written and read back.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    distil_core::config::save_config(&cfg, &path).unwrap();
    let saved = std::fs::read_to_string(&path).unwrap();
    assert!(
        saved.contains("alpha_pooled: 1.0") && saved.contains("pooled_distance: cosine"),
        "{saved}"
    );
    assert_eq!(DistillConfig::load(&path, &[]).unwrap(), cfg);
}

#[test]
fn shipped_recipe_parses_validates_and_equals_the_defaults() {
    let cfg = DistillConfig::load(&shipped(), &[]).unwrap();
    let mut defaults = DistillConfig::default();
    defaults.data.shards = PathBuf::from("shards/bert-base-uncased");
    assert_eq!(cfg, defaults);
    assert_eq!(cfg.loss.alpha_ce, 5.0);
    assert_eq!(cfg.loss.alpha_mlm, 2.0);
    assert_eq!(cfg.loss.alpha_cos, 1.0);
    assert_eq!(cfg.loss.temperature, 2.0);
    assert_eq!(cfg.optimizer.betas, [0.9, 0.98]);
    assert_eq!(cfg.optimizer.grad_accumulation, 50);
    assert_eq!(cfg.student.init, StudentInit::TeacherLayers);
    assert_eq!(cfg.student.teacher_layers, [0, 2, 4, 7, 9, 11]);
    assert!(cfg.student.freeze_position_embeddings);
    assert_eq!(cfg.training.seed, 56);
    assert_eq!(
        cfg.run_dir(),
        PathBuf::from("experiments/distilbert-base-uncased")
    );
}

#[test]
fn unknown_key_wrong_type_and_bad_values_are_one_line_errors_naming_the_key() {
    let err = load_text("loss:\n  alpha_kd: 1.0\n", &[]).unwrap_err();
    one_line_naming(&err, "loss.alpha_kd");
    let err = load_text("optimizer:\n  grad_accumulation: many\n", &[]).unwrap_err();
    one_line_naming(&err, "optimizer.grad_accumulation");
    assert!(err.contains("invalid type"), "{err}");
    let err = load_text("loss:\n  alpha_mlm: -2.0\n", &[]).unwrap_err();
    one_line_naming(&err, "loss.alpha_mlm");
    let err = load_text(
        "loss: {alpha_ce: 0, alpha_mlm: 0, alpha_cos: 0, alpha_mse: 0}\n",
        &[],
    )
    .unwrap_err();
    one_line_naming(&err, "loss.alpha_ce");
    let err = load_text("loss:\n  temperature: 0\n", &[]).unwrap_err();
    one_line_naming(&err, "loss.temperature");
    let err = load_text("training:\n  device: tpu\n", &[]).unwrap_err();
    one_line_naming(&err, "training.device");
    let err = load_text("training:\n  precision: fp8\n", &[]).unwrap_err();
    one_line_naming(&err, "training.precision");
    let err = load_text("student:\n  teacher_layers: [4, 2]\n", &[]).unwrap_err();
    one_line_naming(&err, "student.teacher_layers");
    let err = load_text("student:\n  init: checkpoint\n", &[]).unwrap_err();
    one_line_naming(&err, "student.checkpoint");
    let err = load_text("optimizer:\n  betas: [0.9, 1.0]\n", &[]).unwrap_err();
    one_line_naming(&err, "optimizer.betas");
    let err = load_text("output:\n  run_name: a/b\n", &[]).unwrap_err();
    one_line_naming(&err, "output.run_name");
    let err = load_text("data:\n  batch_size: 0\n", &["data.shards=s"]).unwrap_err();
    one_line_naming(&err, "data.batch_size");
    let err = load_text("data:\n  masking:\n    word_mask: 0.5\n", &[]).unwrap_err();
    one_line_naming(&err, "data.masking.word_mask");
}

#[test]
fn set_overrides_apply_before_validation() {
    let cfg = load_text(
        "",
        &[
            "loss.temperature=3",
            "optimizer.betas=[0.8, 0.9]",
            "training.device=cuda:1",
            "training.precision=bf16",
            "training.max_steps=200",
            "student.teacher_layers=[0, 11]",
        ],
    )
    .unwrap();
    assert_eq!(cfg.loss.temperature, 3.0);
    assert_eq!(cfg.optimizer.betas, [0.8, 0.9]);
    assert_eq!(cfg.training.device, DeviceSpec::Cuda(1));
    assert_eq!(cfg.training.precision, TrainingPrecision::Bf16Autocast);
    assert_eq!(cfg.training.max_steps, Some(200));
    assert_eq!(cfg.student.teacher_layers, [0, 11]);

    let err = load_text("", &["loss.alpha_ce=-1"]).unwrap_err();
    one_line_naming(&err, "loss.alpha_ce");
    let err = load_text("", &["loss.alpha_typo=1"]).unwrap_err();
    one_line_naming(&err, "loss.alpha_typo");
    assert!(err.contains("--set loss.alpha_typo=1"), "{err}");
}

#[test]
fn resolved_config_round_trips_through_yaml() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = load_text("", &["training.device=cpu", "loss.alpha_mse=0.5"]).unwrap();
    let path = dir.path().join("config.yaml");
    distil_core::config::save_config(&cfg, &path).unwrap();
    assert_eq!(DistillConfig::load(&path, &[]).unwrap(), cfg);
}

const BERT_BASE: ModelDims = ModelDims {
    vocab_size: 30522,
    hidden_size: 768,
    max_position_embeddings: 512,
    n_layers: 12,
    n_heads: 12,
};

#[test]
fn incompatible_teacher_and_student_name_the_key() {
    let teacher = BERT_BASE;
    let loss = LossConfig::default();
    assert!(check_compatibility(&teacher, &teacher, &loss).is_ok());

    let student = ModelDims {
        vocab_size: 30000,
        ..teacher
    };
    let err = check_compatibility(&teacher, &student, &loss)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`student.vocab_size`") && err.contains("30000") && err.contains("30522"),
        "{err}"
    );

    let narrow = ModelDims {
        hidden_size: 384,
        ..teacher
    };
    let err = check_compatibility(&teacher, &narrow, &loss)
        .unwrap_err()
        .to_string();
    assert!(err.contains("`student.hidden_size`"), "{err}");
    let no_cos = LossConfig {
        alpha_cos: 0.0,
        ..LossConfig::default()
    };
    assert!(check_compatibility(&teacher, &narrow, &no_cos).is_ok());

    // The pooled term compares sentence embeddings of equal widths.
    let pooled = LossConfig {
        alpha_pooled: 1.0,
        ..no_cos
    };
    assert!(check_compatibility(&teacher, &teacher, &pooled).is_ok());
    let err = check_compatibility(&teacher, &narrow, &pooled).unwrap_err();
    assert_eq!(err.key, "loss.alpha_pooled");
    let err = err.to_string();
    assert!(err.contains("384") && err.contains("768"), "{err}");
}

/// The intermediate-layer terms are checked against both shapes, each naming its key.
#[test]
fn layer_terms_are_checked_against_both_shapes() {
    let teacher = BERT_BASE;
    // TinyBERT-4 x 312: 12 heads of 26.
    let tiny = ModelDims {
        hidden_size: 312,
        n_layers: 4,
        ..teacher
    };
    let terms = |text: &str| -> LossConfig {
        let yaml = format!("alpha_cos: 0.0\n{text}");
        serde_yaml::from_str(&yaml).unwrap()
    };
    let tinybert = terms("alpha_hidden_mse: 1.0\nalpha_attention_kl: 1.0");
    assert!(check_compatibility(&teacher, &tiny, &tinybert).is_ok());
    let key_of = |student: &ModelDims, loss: &LossConfig| {
        check_compatibility(&teacher, student, loss)
            .unwrap_err()
            .key
    };
    let six_heads = ModelDims { n_heads: 6, ..tiny };
    assert_eq!(key_of(&six_heads, &tinybert), "loss.alpha_attention_kl");
    let long_map = terms("alpha_hidden_mse: 1.0\nlayer_map: [3, 6, 9]");
    assert_eq!(key_of(&tiny, &long_map), "loss.layer_map");
    let relations = terms("alpha_attention_relations: 1.0\nrelation_heads: 12");
    assert!(check_compatibility(&teacher, &six_heads, &relations).is_ok());
    let odd_heads = terms("alpha_attention_relations: 1.0\nrelation_heads: 7");
    assert_eq!(key_of(&tiny, &odd_heads), "loss.relation_heads");
    let deep = terms("alpha_attention_relations: 1.0\nrelation_teacher_layer: 13");
    assert_eq!(key_of(&tiny, &deep), "loss.relation_teacher_layer");
    // Unused terms are not checked.
    assert!(check_compatibility(&teacher, &six_heads, &terms("alpha_ce: 1.0")).is_ok());
}

#[test]
fn a_run_without_a_teacher_allows_only_the_mlm_term() {
    let dir = tempfile::tempdir().unwrap();
    let student = dir.path().join("config.json");
    std::fs::write(&student, "{}").unwrap();
    let no_teacher = format!(
        "teacher: {{source: none}}\nstudent: {{init: config, config: {}}}\n",
        student.display()
    );
    // The recipe's default weights distil from a teacher: each teacher term is named.
    let err = load_text(&no_teacher, &[]).unwrap_err();
    one_line_naming(&err, "loss.alpha_ce");
    let err = load_text(&no_teacher, &["loss.alpha_ce=0"]).unwrap_err();
    one_line_naming(&err, "loss.alpha_cos");
    let err = load_text(
        &no_teacher,
        &["loss.alpha_ce=0", "loss.alpha_cos=0", "loss.alpha_mse=1"],
    )
    .unwrap_err();
    one_line_naming(&err, "loss.alpha_mse");
    let err = load_text(
        &no_teacher,
        &["loss.alpha_ce=0", "loss.alpha_cos=0", "loss.alpha_pooled=1"],
    )
    .unwrap_err();
    one_line_naming(&err, "loss.alpha_pooled");
    let mlm_only = ["loss.alpha_ce=0", "loss.alpha_cos=0"];
    let cfg = load_text(&no_teacher, &mlm_only).unwrap();
    assert!(cfg.teacher.is_none());
    let err = load_text("teacher: {source: none}\n", &mlm_only).unwrap_err();
    one_line_naming(&err, "student.init");
}

/// A layer the teacher lacks is reported once, under the key that lists it.
#[test]
fn a_teacher_layer_the_teacher_lacks_names_the_key() {
    use distil_train::distill::models::{build_student, load_teacher};
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/fixtures/bert-mlm");
    let teacher = load_teacher(&dir, tch::Device::Cpu, true).unwrap();
    let cfg = load_text("", &["student.teacher_layers=[0, 9]"]).unwrap();
    let err = build_student(&cfg, Some((&teacher, &dir)), tch::Device::Cpu)
        .err()
        .unwrap();
    // The whole chain, as the CLI prints it.
    let mut chain = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        chain = format!("{chain}: {cause}");
        source = cause.source();
    }
    assert!(chain.contains("`student.teacher_layers`"), "{chain}");
    assert!(chain.contains("the teacher has 4 layers"), "{chain}");
    assert_eq!(
        chain.matches("teacher layer 9 does not exist").count(),
        1,
        "{chain}"
    );
}

#[test]
fn step_switches_are_config_keys() {
    use distil_train::loss::VocabProjection;
    use distil_train::AttentionKernel;
    let cfg = load_text("step: {projection: full}\n", &["step.attention=eager"]).unwrap();
    assert_eq!(cfg.step.projection, VocabProjection::FullSequence);
    assert_eq!(cfg.step.attention, AttentionKernel::Eager);
    let err = load_text("step:\n  attention: flash\n", &[]).unwrap_err();
    one_line_naming(&err, "step.attention");
    let err = load_text("step:\n  kernel: sdpa\n", &[]).unwrap_err();
    one_line_naming(&err, "step.kernel");
}

#[test]
fn teacher_source_none_is_a_run_without_a_teacher_and_saves_as_none() {
    use distil_train::TeacherSource;
    let dir = tempfile::tempdir().unwrap();
    let student = dir.path().join("config.json");
    std::fs::write(&student, "{}").unwrap();
    let text = format!(
        "student: {{init: config, config: {}}}\nloss: {{alpha_ce: 0, alpha_cos: 0}}\n",
        student.display()
    );
    let cfg = load_text(&text, &["teacher.source=none"]).unwrap();
    assert_eq!(cfg.teacher.source, TeacherSource::None);
    let path = dir.path().join("config.yaml");
    distil_core::config::save_config(&cfg, &path).unwrap();
    let saved = std::fs::read_to_string(&path).unwrap();
    assert!(saved.contains("source: none"), "{saved}");
    assert_eq!(DistillConfig::load(&path, &[]).unwrap(), cfg);

    let cfg = load_text("teacher: {source: my/teacher}\n", &[]).unwrap();
    assert_eq!(
        cfg.teacher.source,
        TeacherSource::Model("my/teacher".to_string())
    );
    let err = load_text("teacher: {source: ' '}\n", &[]).unwrap_err();
    one_line_naming(&err, "teacher.source");
}
