//! `distil init-student`: a DistilBERT student initialised from chosen layers of a BERT
//! teacher (the reference `extract_distilbert.py` mapping), written as an HF directory.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use distil_student::{init_student, save_student};
use tch::Device;

#[derive(Debug, Args)]
pub struct InitStudentArgs {
    /// The teacher: an HF BERT directory (config.json, weights, tokenizer files); a bare
    /// `BertModel` without an MLM head gives the student a fresh head.
    #[arg(long)]
    pub teacher: PathBuf,
    /// Teacher layers copied into student layers 0, 1, ... (the list sets the student's depth).
    #[arg(long, value_delimiter = ',', default_value = "0,2,4,7,9,11")]
    pub layers: Vec<i64>,
    /// Also copy the MLM head's transform (`vocab_transform`, `vocab_layer_norm`) instead of
    /// starting it fresh, as the reference script's `--vocab_transform`.
    #[arg(long)]
    pub vocab_transform: bool,
    /// Output directory (an HF DistilBERT directory).
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(args: &InitStudentArgs) -> anyhow::Result<()> {
    // A pure copy of tensors: the CPU is always right for it.
    let student = init_student(
        &args.teacher,
        &args.layers,
        args.vocab_transform,
        Device::Cpu,
    )
    .with_context(|| format!("initialising a student from {}", args.teacher.display()))?;
    save_student(&student, &args.out, Some(&args.teacher))
        .with_context(|| format!("writing the student to {}", args.out.display()))?;
    let copied = student.report.loaded.len();
    let fresh = &student.report.missing_allowed;
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
