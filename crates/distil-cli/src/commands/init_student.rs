//! `distil init-student`: a student initialised from chosen layers of a teacher, written as an
//! HF directory: a DistilBERT from a BERT (the reference `extract_distilbert.py` mapping), a
//! DistilRoBERTa from a RoBERTa or a DistilGPT2 from a GPT-2 (`extract.py`).

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use distil_core::nn::{ModelError, Pretrained};
use distil_models::{AnyConfig, AnyLanguageModel};
use distil_student::{check_teacher_layers, init_student, save_student};
use tch::Device;

#[derive(Debug, Args)]
pub struct InitStudentArgs {
    /// The teacher: an HF BERT, RoBERTa or GPT-2 directory (config.json, weights, tokenizer
    /// files); a bare `BertModel` without an MLM head gives the student a fresh head.
    #[arg(long)]
    pub teacher: PathBuf,
    /// Teacher layers copied into student layers 0, 1, ... (the list sets the student's depth).
    #[arg(long, value_delimiter = ',', default_value = "0,2,4,7,9,11")]
    pub layers: Vec<i64>,
    /// Also copy the MLM head's transform (`vocab_transform`, `vocab_layer_norm`) instead of
    /// starting it fresh, as the reference script's `--vocab_transform` (BERT teachers; the
    /// other families' heads are copied whole).
    #[arg(long)]
    pub vocab_transform: bool,
    /// Output directory (an HF DistilBERT, RoBERTa or GPT-2 directory).
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(args: &InitStudentArgs) -> anyhow::Result<()> {
    let student = build(args)
        .with_context(|| format!("initialising a student from {}", args.teacher.display()))?;
    save_student(&student, &args.out, Some(&args.teacher))
        .with_context(|| format!("writing the student to {}", args.out.display()))?;
    let fresh = &student.report.missing_allowed;
    let copied = student.vs.variables().len() - fresh.len();
    println!(
        "wrote {}: {} layers from teacher layers {:?}, {copied} tensors copied{}",
        args.out.display(),
        args.layers.len(),
        args.layers,
        if fresh.is_empty() {
            String::new()
        } else {
            format!(", freshly initialised: {}", fresh.join(", "))
        }
    );
    Ok(())
}

/// The student of the teacher's family. A pure copy of tensors: the CPU is always right for it.
fn build(args: &InitStudentArgs) -> anyhow::Result<Pretrained<AnyLanguageModel, AnyConfig>> {
    let teacher_config = AnyConfig::from_dir(&args.teacher)?;
    if let AnyConfig::Bert(_) = teacher_config {
        let student = init_student(
            &args.teacher,
            &args.layers,
            args.vocab_transform,
            Device::Cpu,
        )?;
        return Ok(AnyLanguageModel::from_distilbert(student));
    }
    if args.vocab_transform {
        bail!(
            "--vocab-transform applies to BERT teachers; a {} teacher's head is copied whole",
            teacher_config.model_type()
        );
    }
    let teacher = AnyLanguageModel::from_pretrained(&args.teacher, Device::Cpu)?;
    let student: Result<_, ModelError> = match &teacher.config {
        AnyConfig::Roberta(c) => {
            check_teacher_layers(&args.layers, c.num_hidden_layers)?;
            distil_roberta::student_from_teacher(c, &teacher.vs, &args.layers, Device::Cpu)
                .map(AnyLanguageModel::from_roberta)
        }
        AnyConfig::Gpt2(c) => {
            check_teacher_layers(&args.layers, c.n_layer)?;
            distil_gpt2::student_from_teacher(c, &teacher.vs, &args.layers, Device::Cpu)
                .map(AnyLanguageModel::from_gpt2)
        }
        other => bail!(
            "the teacher is a {}: init-student takes a BERT, RoBERTa or GPT-2 teacher",
            other.model_type()
        ),
    };
    Ok(student?)
}
