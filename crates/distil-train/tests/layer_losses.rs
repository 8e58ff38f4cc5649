//! The intermediate-layer loss terms (hidden-state MSE through projections, attention-map KL,
//! MiniLM v2 relations) against PyTorch, values and gradients, on the fixture of
//! scripts/make_layer_loss_fixtures.py: a 2-layer, 8-wide student and a 4-layer, 12-wide
//! teacher over a padded batch. Also the pooled-embedding term, which reads hidden states only
//! as well, on that script's `pooled_loss` fixture.

#![allow(clippy::unwrap_used)] // tests fail loudly on bad fixtures

mod common;

use std::collections::HashMap;

use common::reference_fixture;
use distil_core::{AttentionProjections, EncoderInput, EncoderOutput, LanguageModel};
use distil_train::{
    LossConfig, LossContext, LossInputs, LossOutput, ModelDims, RowIndex, TripleLoss,
};
use tch::nn::VarStore;
use tch::{Device, Tensor};

/// The terms read hidden states, attention maps and projections only, never logits.
struct NoHead;

impl LanguageModel for NoHead {
    fn encode(&self, _: &EncoderInput, _: bool) -> EncoderOutput {
        unreachable!("the outputs are given")
    }
    fn vocab_logits(&self, _: &Tensor, _: bool) -> Tensor {
        unreachable!("the layer terms read no logits")
    }
    fn hidden_size(&self) -> i64 {
        0
    }
    fn vocab_size(&self) -> i64 {
        0
    }
}

struct Fixture {
    tensors: HashMap<String, Tensor>,
    scalars: serde_json::Value,
}

impl Fixture {
    fn load() -> Self {
        let (tensors, scalars) = reference_fixture("layer_losses");
        Self { tensors, scalars }
    }

    fn t(&self, name: &str) -> Tensor {
        self.tensors[name].shallow_clone()
    }

    fn leaf(&self, name: &str) -> Tensor {
        self.t(name).detach().set_requires_grad(true)
    }

    fn f(&self, name: &str) -> f64 {
        self.scalars[name].as_f64().unwrap()
    }

    fn list(&self, prefix: &str, leaf: bool) -> Vec<Tensor> {
        (0..)
            .map(|i| format!("{prefix}.{i}"))
            .take_while(|name| self.tensors.contains_key(name))
            .map(|name| {
                if leaf {
                    self.leaf(&name)
                } else {
                    self.t(&name)
                }
            })
            .collect()
    }

    fn projections(&self, side: &str, leaf: bool) -> AttentionProjections {
        let get = |name: &str| {
            let name = format!("{side}_{name}");
            if leaf {
                self.leaf(&name)
            } else {
                self.t(&name)
            }
        };
        AttentionProjections {
            query: get("query"),
            key: get("key"),
            value: get("value"),
        }
    }
}

fn dims(hidden_size: i64, n_layers: i64) -> ModelDims {
    ModelDims {
        vocab_size: 10,
        hidden_size,
        max_position_embeddings: 6,
        n_layers,
        n_heads: 2,
    }
}

fn assert_close(name: &str, got: &Tensor, want: &Tensor) {
    let diff = (got - want).abs().max().double_value(&[]);
    let scale = want.abs().max().double_value(&[]).max(1.0);
    assert!(diff <= 1e-5 * scale, "{name}: max |diff| {diff}");
}

/// `loss` on the given outputs over a batch without prediction targets.
fn compute(
    loss: &TripleLoss,
    student_out: &EncoderOutput,
    teacher_out: &EncoderOutput,
    mask: &Tensor,
) -> LossOutput {
    let labels = mask.full_like(-100);
    let rows = RowIndex::new(mask, &labels, Device::Cpu);
    let mut ctx = LossContext::new(LossInputs {
        student: &NoHead,
        teacher: &NoHead,
        student_out,
        teacher_out,
        attention_mask: mask,
        labels: &labels,
        rows: &rows,
        train: true,
    });
    loss.compute(&mut ctx)
}

/// One term alone (weight 1) on the fixture: its value and every student gradient.
fn check_term(term: &str) {
    let fx = Fixture::load();
    let yaml = format!(
        "alpha_ce: 0\nalpha_mlm: 0\nalpha_cos: 0\n{term}: 1.0\nrelation_heads: {}",
        fx.f("relation_heads")
    );
    let cfg: LossConfig = serde_yaml::from_str(&yaml).unwrap();
    let vs = VarStore::new(Device::Cpu);
    let loss = TripleLoss::from_config(&cfg)
        .with_layer_terms(&cfg, &dims(8, 2), &dims(12, 4), &vs.root(), 0.02)
        .unwrap();
    // The projections are the fixture's.
    tch::no_grad(|| {
        for (name, mut var) in vs.variables() {
            let index = name.trim_start_matches("distillation.hidden_projection.");
            var.copy_(&fx.t(&format!("projection.{index}")));
        }
    });
    let needs = loss.needs();
    let student_out = EncoderOutput {
        hidden_states: fx.list("student_hidden", true),
        attentions: needs
            .student
            .attentions
            .then(|| fx.list("student_attention", true)),
        projections: needs
            .student
            .projections_of_layer
            .map(|_| fx.projections("student", true)),
    };
    let teacher_out = EncoderOutput {
        hidden_states: fx.list("teacher_hidden", false),
        attentions: Some(fx.list("teacher_attention", false)),
        projections: Some(fx.projections("teacher", false)),
    };
    let mask = fx.t("attention_mask");
    let out = compute(&loss, &student_out, &teacher_out, &mask);
    let name = term.trim_start_matches("alpha_");
    assert_eq!(out.terms.len(), 1);
    assert_eq!(out.terms[0].0, format!("loss_{name}"));
    let want = fx.f(name);
    let got = out.total.double_value(&[]);
    assert!(
        (got - want).abs() <= 1e-5 * want.abs().max(1.0),
        "{name}: {got} vs {want}"
    );
    out.total.backward();

    // Each student tensor is read by one term only, so the fixture's gradients (of the sum
    // of the three) are that term's.
    let mut checked = 0;
    if name == "hidden_mse" {
        for (i, h) in student_out.hidden_states.iter().enumerate() {
            let want = fx.t(&format!("grad.student_hidden.{i}"));
            assert_close(&format!("d/d hidden {i}"), &h.grad(), &want);
            checked += 1;
        }
    }
    for (i, a) in student_out.attentions.iter().flatten().enumerate() {
        let want = fx.t(&format!("grad.student_attention.{i}"));
        // Padded keys have probability 0 and are not read: torch's gradient there is junk.
        let keys = mask.ne(0).unsqueeze(1).unsqueeze(1).expand_as(&want);
        assert_close(
            &format!("d/d attention {i}"),
            &a.grad().masked_select(&keys),
            &want.masked_select(&keys),
        );
        checked += 1;
    }
    if let Some(p) = &student_out.projections {
        for (part, t) in [("query", &p.query), ("key", &p.key), ("value", &p.value)] {
            assert_close(part, &t.grad(), &fx.t(&format!("grad.student_{part}")));
            checked += 1;
        }
    }
    for (name, var) in vs.variables() {
        let index = name.trim_start_matches("distillation.hidden_projection.");
        assert_close(
            &name,
            &var.grad(),
            &fx.t(&format!("grad.projection.{index}")),
        );
        checked += 1;
    }
    assert!(checked > 0, "{name}: no gradient compared");
    // Every gradient is finite (padded keys included).
    for (i, a) in student_out.attentions.iter().flatten().enumerate() {
        let finite = a.grad().isfinite().all().int64_value(&[]);
        assert_eq!(finite, 1, "attention {i} gradient");
    }
}

#[test]
fn hidden_mse_through_projections_matches_pytorch() {
    check_term("alpha_hidden_mse");
}

#[test]
fn attention_kl_matches_pytorch() {
    check_term("alpha_attention_kl");
}

#[test]
fn attention_relations_match_pytorch() {
    check_term("alpha_attention_relations");
}

/// Equal widths are compared directly: no projection is created.
#[test]
fn equal_widths_need_no_projection() {
    let cfg: LossConfig = serde_yaml::from_str("alpha_hidden_mse: 1.0").unwrap();
    let vs = VarStore::new(Device::Cpu);
    let loss = TripleLoss::from_config(&cfg)
        .with_layer_terms(&cfg, &dims(12, 2), &dims(12, 4), &vs.root(), 0.02)
        .unwrap();
    assert!(loss.term_names().contains(&"loss_hidden_mse"));
    assert!(vs.variables().is_empty());
    let narrow = VarStore::new(Device::Cpu);
    TripleLoss::from_config(&cfg)
        .with_layer_terms(&cfg, &dims(8, 2), &dims(12, 4), &narrow.root(), 0.02)
        .unwrap();
    let mut names: Vec<String> = narrow.variables().into_keys().collect();
    names.sort();
    assert_eq!(names.len(), 6, "{names:?}");
    assert_eq!(names[0], "distillation.hidden_projection.0.bias");
}

/// The pooled term alone (weight 1) with `distance`: PyTorch's value and gradient w.r.t. the
/// student's last hidden states (0 at the padding, which PyTorch's pooling never reads).
fn check_pooled(distance: &str) {
    let (tensors, scalars) = reference_fixture("pooled_loss");
    let t = |name: &str| tensors[name].shallow_clone();
    let yaml = format!(
        "alpha_ce: 0\nalpha_mlm: 0\nalpha_cos: 0\nalpha_pooled: 1.0\npooled_distance: {distance}"
    );
    let cfg: LossConfig = serde_yaml::from_str(&yaml).unwrap();
    let loss = TripleLoss::from_config(&cfg);
    assert_eq!(loss.term_names(), ["loss_pooled"]);
    let student = t("student_hidden").set_requires_grad(true);
    let output = |hidden: Tensor| EncoderOutput {
        hidden_states: vec![hidden],
        attentions: None,
        projections: None,
    };
    let (student_out, teacher_out) = (output(student.shallow_clone()), output(t("teacher_hidden")));
    let out = compute(&loss, &student_out, &teacher_out, &t("attention_mask"));
    let got = out.total.double_value(&[]);
    let want = scalars[distance].as_f64().unwrap();
    assert!((got - want).abs() <= 1e-6, "{distance}: {got} vs {want}");
    out.total.backward();
    let want = t(&format!("grad.{distance}"));
    let diff = (student.grad() - &want).abs().max().double_value(&[]);
    assert!(diff <= 1e-6, "{distance} gradient: max |diff| {diff}");
}

#[test]
fn pooled_mse_matches_pytorch() {
    check_pooled("mse");
}

#[test]
fn pooled_cosine_matches_pytorch() {
    check_pooled("cosine");
}
