//! Task-time distillation on real fixture models: a teacher identical to the student gives a
//! soft-target loss of exactly 0, and a BERT teacher is fed its segment ids even when the
//! student (DistilBERT) takes none.

// Test helpers unwrap like the tests they serve.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use distil_data::load_tokenizer;
use distil_tasks::finetune::glue_run::Classifier;
use distil_tasks::finetune::squad_run::Reader;
use distil_tasks::finetune::{
    Batching, DistillationConfig, GlueData, GlueFineTune, SequenceClassifier, SpanExtractor,
    SquadData, SquadFineTune, TaskModel,
};
use distil_tasks::glue::{GlueEncoder, GlueFeature, GlueFeatureConfig};
use distil_tasks::squad::{
    DecodeConfig, PairLayout, SquadFeatureConfig, SquadFeaturizer, SquadVersion,
};
use distil_tasks::{ClassificationBatch, GlueSplit, GlueTask, SegmentIds};
use distil_testkit::{fixture, repo_path};
use distil_train::loss::soft_target_kl;
use tch::Device;

fn mnli_pairs() -> (GlueData, i64) {
    let tokenizer = load_tokenizer(&fixture("distilbert-mlm").display().to_string()).unwrap();
    let config = GlueFeatureConfig { max_seq_length: 64 };
    let encoder = GlueEncoder::new(&tokenizer, &config).unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/glue/MNLI/train.tsv");
    let examples = GlueTask::Mnli
        .read_examples(GlueSplit::Train, &path)
        .unwrap();
    let data = GlueData {
        task: GlueTask::Mnli,
        train: encoder.encode(&examples).unwrap(),
        dev: Vec::new(),
        test: Vec::new(),
    };
    (data, encoder.pad_id())
}

fn labels() -> Vec<String> {
    ["contradiction", "entailment", "neutral"]
        .map(String::from)
        .to_vec()
}

/// The MNLI fine-tune of `student` with only the soft-target loss against `teacher`.
fn soft_targets_only<'a>(
    data: &'a GlueData,
    pad_id: i64,
    student: &'a TaskModel<SequenceClassifier>,
    teacher: &'a TaskModel<SequenceClassifier>,
) -> GlueFineTune<'a> {
    GlueFineTune::new(
        data,
        Classifier::from(student),
        Some(Classifier::from(teacher)),
        ONLY_KD,
        batching(pad_id),
    )
}

fn batching(pad_id: i64) -> Batching {
    Batching {
        pad_id,
        eval_batch_size: 8,
        device: Device::Cpu,
    }
}

const ONLY_KD: DistillationConfig = DistillationConfig {
    alpha_task: 0.0,
    alpha_ce: 1.0,
    temperature: 2.0,
};

#[test]
fn a_teacher_identical_to_the_student_gives_zero_soft_target_loss() {
    let (data, pad_id) = mnli_pairs();
    let features: Vec<&GlueFeature> = data.train.iter().collect();
    for name in ["distilbert-seqcls", "bert-seqcls"] {
        let student = SequenceClassifier::load(&fixture(name), &labels(), Device::Cpu).unwrap();
        let teacher = SequenceClassifier::load(&fixture(name), &labels(), Device::Cpu).unwrap();
        let objective = soft_targets_only(&data, pad_id, &student, &teacher);
        // Dropout off (as at step 0 of a run with dropout 0): KL(p || p) = 0 exactly.
        let loss = objective.loss(&features, false);
        assert_eq!(loss.total.double_value(&[]), 0.0, "{name}");
        assert_eq!(loss.parts[1].0, "loss_ce");
        assert!(
            loss.parts[0].1.double_value(&[]) > 0.0,
            "the task loss is not 0"
        );
    }

    let tokenizer = load_tokenizer(&fixture("distilbert-mlm").display().to_string()).unwrap();
    let features = SquadFeaturizer::new(
        &tokenizer,
        PairLayout::BERT,
        &SquadFeatureConfig {
            max_seq_length: 64,
            max_query_length: 16,
            doc_stride: 24,
            ..SquadFeatureConfig::default()
        },
    )
    .unwrap();
    let path = repo_path("data/squad/dev-v2.0-first5articles.json");
    let mut examples = distil_tasks::squad::read_squad(&path, Default::default())
        .unwrap()
        .examples;
    examples.truncate(6);
    let windows = features.build(&examples).unwrap();
    let squad = SquadData {
        version: SquadVersion::V2,
        train: windows.clone(),
        eval_examples: examples,
        eval_features: windows,
    };
    let student = SpanExtractor::load(&fixture("distilbert-qa"), Device::Cpu).unwrap();
    let teacher = SpanExtractor::load(&fixture("distilbert-qa"), Device::Cpu).unwrap();
    let objective = SquadFineTune::new(
        &squad,
        Reader::from(&student),
        Some(Reader::from(&teacher)),
        ONLY_KD,
        DecodeConfig::default(),
        batching(features.pad_id()),
    );
    let refs: Vec<_> = squad.train.iter().collect();
    let loss = objective.loss(&refs, false);
    assert_eq!(loss.total.double_value(&[]), 0.0);
}

#[test]
fn a_bert_teacher_gets_segment_ids_that_a_distilbert_student_does_not_take() {
    let (data, pad_id) = mnli_pairs();
    let features: Vec<&GlueFeature> = data.train.iter().collect();
    let student =
        SequenceClassifier::load(&fixture("distilbert-seqcls"), &labels(), Device::Cpu).unwrap();
    let teacher =
        SequenceClassifier::load(&fixture("bert-seqcls"), &labels(), Device::Cpu).unwrap();
    assert_eq!(student.segments(), SegmentIds::Drop);
    assert_eq!(teacher.segments(), SegmentIds::Keep);
    let objective = soft_targets_only(&data, pad_id, &student, &teacher);
    let got = objective.loss(&features, false).total.double_value(&[]);

    let batch = ClassificationBatch::collate(&features, pad_id, SegmentIds::Keep);
    let types = batch.inputs.token_type_ids.as_ref().unwrap();
    assert!(
        types.max().int64_value(&[]) == 1,
        "the fixture rows are sentence pairs"
    );
    let student_logits = student.model.logits(
        &distil_core::EncoderInput::new(&batch.inputs.input_ids, &batch.inputs.attention_mask),
        false,
    );
    let fed = teacher.model.logits(&batch.inputs.encoder_input(), false);
    let starved = teacher.model.logits(
        &distil_core::EncoderInput::new(&batch.inputs.input_ids, &batch.inputs.attention_mask),
        false,
    );
    let with_segments = soft_target_kl(&student_logits, &fed, 2.0).double_value(&[]);
    let without = soft_target_kl(&student_logits, &starved, 2.0).double_value(&[]);
    assert!(
        (got - with_segments).abs() < 1e-6,
        "{got} vs {with_segments}"
    );
    assert!(
        (got - without).abs() > 1e-4,
        "segment ids make no difference here"
    );
}
