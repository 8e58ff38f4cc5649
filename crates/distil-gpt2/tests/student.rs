//! The DistilGPT2 student built from chosen teacher blocks: every tensor is the teacher's
//! (blocks renumbered), the head stays tied to the copied `wte`, the position table can be
//! frozen, and a missing block is an error naming the weight.
#![allow(clippy::unwrap_used)] // tests fail loudly on bad fixtures

use distil_core::nn::{ModelError, PretrainedModel};
use distil_core::{EncoderInput, LanguageModel};
use distil_gpt2::{student_from_teacher, Gpt2LMHeadModel};
use distil_testkit::fixture;
use tch::{Device, Kind, Tensor};

#[test]
fn student_blocks_are_the_chosen_teacher_blocks() {
    let teacher = Gpt2LMHeadModel::from_pretrained(&fixture("gpt2-lm"), Device::Cpu).unwrap();
    let student = student_from_teacher(&teacher.config, &teacher.vs, &[0, 2], Device::Cpu).unwrap();
    assert_eq!(student.config.n_layer, 2);
    let t = teacher.vs.variables();
    let s = student.vs.variables();
    assert_eq!(
        s.len(),
        t.len() - t.keys().filter(|k| k.contains(".h.1.")).count()
    );
    for (name, tensor) in &s {
        let source = name.replace("transformer.h.1.", "transformer.h.2.");
        assert!(
            tensor.equal(&t[&source]),
            "{name} is not teacher's {source}"
        );
    }
    // The head reads the student's own (copied) embeddings, so it is tied in the student.
    let hidden = Tensor::randn([3, 32], (Kind::Float, Device::Cpu));
    let expected = hidden.matmul(&s["transformer.wte.weight"].tr());
    assert!(student
        .model
        .vocab_logits(&hidden, false)
        .allclose(&expected, 1e-6, 1e-6, false));
    let ids = Tensor::from_slice(&[5i64, 9, 40, 7]).view([1, 4]);
    let mask = Tensor::ones([1, 4], (Kind::Int64, Device::Cpu));
    let out = student.model.encode(&EncoderInput::new(&ids, &mask), false);
    assert_eq!(out.hidden_states.len(), 3);
}

#[test]
fn the_position_table_freezes() {
    let teacher = Gpt2LMHeadModel::from_pretrained(&fixture("gpt2-lm"), Device::Cpu).unwrap();
    let student = student_from_teacher(&teacher.config, &teacher.vs, &[0, 2], Device::Cpu).unwrap();
    let trainable = student.vs.trainable_variables().len();
    student
        .model
        .freeze_position_embeddings(&student.vs)
        .unwrap();
    assert_eq!(student.vs.trainable_variables().len(), trainable - 1);
    assert!(!student.vs.variables()["transformer.wpe.weight"].requires_grad());
}

#[test]
fn a_block_the_teacher_lacks_is_named() {
    let teacher = Gpt2LMHeadModel::from_pretrained(&fixture("gpt2-lm"), Device::Cpu).unwrap();
    let err = student_from_teacher(&teacher.config, &teacher.vs, &[0, 9], Device::Cpu).unwrap_err();
    match err {
        ModelError::UnknownVariable { name } => {
            assert!(name.starts_with("transformer.h.9."), "{name}")
        }
        other => panic!("unexpected error: {other}"),
    }
}
