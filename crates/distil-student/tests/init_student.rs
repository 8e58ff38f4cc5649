//! `init_student` from the tiny 4-layer BERT fixture: the student's tensors are exactly the
//! chosen teacher tensors, and the written HF directory reloads with the same values.
#![allow(clippy::unwrap_used)] // test helpers, like tests, may unwrap

use distil_core::checkpoint::read_tensors;
use distil_core::nn::PretrainedModel;
use distil_student::{init_student, save_student, DistilBertForMaskedLM};
use distil_testkit::{encoder_only_teacher, fixture};
use tch::{Device, Tensor};

fn exactly_equal(a: &Tensor, b: &Tensor) -> bool {
    a.size() == b.size() && a.equal(b)
}

#[test]
fn student_takes_the_chosen_teacher_layers_exactly() {
    let teacher_dir = fixture("bert-mlm");
    let teacher = read_tensors(&teacher_dir.join("model.safetensors")).unwrap();
    let layers = [0i64, 2, 3];
    for vocab_transform in [false, true] {
        let student = init_student(&teacher_dir, &layers, vocab_transform, Device::Cpu).unwrap();
        assert_eq!(student.config.n_layers, 3);
        let vars = student.vs.variables();
        let expected_count = 4 + 16 * layers.len() + 1 + if vocab_transform { 4 } else { 0 };
        assert_eq!(
            student.report.loaded.len(),
            expected_count,
            "{}",
            student.report
        );
        let pairs = [
            (
                "distilbert.embeddings.word_embeddings.weight",
                "bert.embeddings.word_embeddings.weight".to_string(),
            ),
            (
                "distilbert.embeddings.position_embeddings.weight",
                "bert.embeddings.position_embeddings.weight".into(),
            ),
            (
                "distilbert.embeddings.LayerNorm.bias",
                "bert.embeddings.LayerNorm.bias".into(),
            ),
            ("vocab_projector.bias", "cls.predictions.bias".into()),
        ];
        for (s, t) in pairs {
            assert!(exactly_equal(&vars[s], &teacher[&t]), "{s} != {t}");
        }
        for (i, &l) in layers.iter().enumerate() {
            for (s, t) in [
                ("attention.q_lin.weight", "attention.self.query.weight"),
                ("attention.k_lin.bias", "attention.self.key.bias"),
                ("attention.v_lin.weight", "attention.self.value.weight"),
                ("attention.out_lin.weight", "attention.output.dense.weight"),
                ("sa_layer_norm.weight", "attention.output.LayerNorm.weight"),
                ("ffn.lin1.weight", "intermediate.dense.weight"),
                ("ffn.lin2.bias", "output.dense.bias"),
                ("output_layer_norm.bias", "output.LayerNorm.bias"),
            ] {
                let s = format!("distilbert.transformer.layer.{i}.{s}");
                let t = format!("bert.encoder.layer.{l}.{t}");
                assert!(exactly_equal(&vars[&s], &teacher[&t]), "{s} != {t}");
            }
        }
        let copied = exactly_equal(
            &vars["vocab_transform.weight"],
            &teacher["cls.predictions.transform.dense.weight"],
        );
        assert_eq!(copied, vocab_transform);
        if !vocab_transform {
            // A fresh HF init: LayerNorm at 1, 0.
            let ln = &vars["vocab_layer_norm.weight"];
            assert!(exactly_equal(ln, &ln.ones_like()));
        }

        // Written as an HF directory and reloaded: the same tensors, HF's key set.
        let out = tempfile::tempdir().unwrap();
        save_student(&student, out.path(), Some(&teacher_dir)).unwrap();
        assert!(out.path().join("tokenizer.json").is_file());
        let reloaded = DistilBertForMaskedLM::from_pretrained(out.path(), Device::Cpu).unwrap();
        let again = reloaded.vs.variables();
        assert_eq!(again.len(), vars.len());
        for (name, t) in &vars {
            assert!(exactly_equal(t, &again[name]), "{name} changed on reload");
        }
        let saved = read_tensors(&out.path().join("model.safetensors")).unwrap();
        assert!(!saved.contains_key("vocab_projector.weight"));
        assert!(saved.keys().all(|k| !k.contains("token_type")));
    }
}

#[test]
fn out_of_range_layer_is_refused() {
    let err = init_student(&fixture("bert-mlm"), &[0, 4], false, Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(err.contains("layer 4") && err.contains("4 layers"), "{err}");
}

#[test]
fn an_encoder_only_teacher_gives_a_fresh_tied_head_with_a_zero_bias() {
    let tmp = tempfile::tempdir().unwrap();
    let teacher_dir = encoder_only_teacher(tmp.path());
    let teacher = read_tensors(&teacher_dir.join("model.safetensors")).unwrap();
    let student = init_student(&teacher_dir, &[1, 3], true, Device::Cpu).unwrap();
    let vars = student.vs.variables();
    assert!(exactly_equal(
        &vars["distilbert.transformer.layer.1.ffn.lin1.weight"],
        &teacher["encoder.layer.3.intermediate.dense.weight"]
    ));
    let bias = &vars["vocab_projector.bias"];
    assert!(exactly_equal(bias, &bias.zeros_like()));
    let mut fresh = student.report.missing_allowed.clone();
    fresh.sort();
    assert_eq!(
        fresh,
        [
            "vocab_layer_norm.bias",
            "vocab_layer_norm.weight",
            "vocab_projector.bias",
            "vocab_transform.bias",
            "vocab_transform.weight"
        ]
    );
    // The projection is the word-embedding tensor itself, not a copy.
    let logits_weight = &student.model.vocab_head.decoder_weight;
    assert_eq!(
        logits_weight.data_ptr(),
        vars["distilbert.embeddings.word_embeddings.weight"].data_ptr()
    );
}
