//! The DistilRoBERTa student built from chosen teacher layers: every tensor is the teacher's
//! (layers renumbered), the model computes with them, and a missing layer is an error naming the
//! weight.
#![allow(clippy::unwrap_used)] // tests fail loudly on bad fixtures

use distil_core::nn::{ModelError, PretrainedModel};
use distil_roberta::{student_from_teacher, RobertaForMaskedLM};
use distil_testkit::fixture;
use tch::Device;

#[test]
fn student_layers_are_the_chosen_teacher_layers() {
    let teacher =
        RobertaForMaskedLM::from_pretrained(&fixture("roberta-mlm"), Device::Cpu).unwrap();
    let student = student_from_teacher(&teacher.config, &teacher.vs, &[0, 3], Device::Cpu).unwrap();
    assert_eq!(student.config.num_hidden_layers, 2);
    let t = teacher.vs.variables();
    let s = student.vs.variables();
    for (name, tensor) in &s {
        let source = name.replace("encoder.layer.1.", "encoder.layer.3.");
        assert!(
            tensor.equal(&t[&source]),
            "{name} is not teacher's {source}"
        );
    }
    assert!(s.keys().any(|k| k.starts_with("lm_head.dense")));
    assert!(!s.keys().any(|k| k.contains("encoder.layer.2.")));
}

#[test]
fn a_layer_the_teacher_lacks_is_named() {
    let teacher =
        RobertaForMaskedLM::from_pretrained(&fixture("roberta-mlm"), Device::Cpu).unwrap();
    let err = student_from_teacher(&teacher.config, &teacher.vs, &[0, 9], Device::Cpu).unwrap_err();
    match err {
        ModelError::UnknownVariable { name } => {
            assert!(name.starts_with("roberta.encoder.layer.9."), "{name}")
        }
        other => panic!("unexpected error: {other}"),
    }
}
