//! `distil export`: rewrites any BERT, DistilBERT or RoBERTa checkpoint directory (safetensors or
//! PyTorch `.bin`, legacy `gamma`/`beta` names, tied keys present or not) as a clean Hugging
//! Face directory. A file-level conversion: no model is built, but the weights' shapes are
//! checked against the sizes `config.json` gives.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use distil_core::checkpoint::{
    canonicalize, check_config_shapes, find_weights, kind_name, parse_float_kind, read_tensors,
    save_hf_tensors, ties_word_embeddings, SaveOptions, TOKENIZER_FILES,
};
use tch::Kind;

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The checkpoint directory to convert (config.json and weights; tokenizer files are
    /// copied when present).
    #[arg(long)]
    pub model: PathBuf,
    /// The directory to write (created when missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Floating-point dtype of the written weights: f32, bf16 or f16 (default: as read).
    #[arg(long, value_parser = parse_dtype)]
    pub dtype: Option<Kind>,
}

fn parse_dtype(text: &str) -> Result<Kind, String> {
    parse_float_kind(text).ok_or_else(|| format!("`{text}` is not one of f32, bf16, f16"))
}

pub fn run(args: &ExportArgs) -> anyhow::Result<()> {
    let config_path = args.model.join("config.json");
    let text = std::fs::read_to_string(&config_path).with_context(|| {
        format!(
            "reading {} (export needs the model's config)",
            config_path.display()
        )
    })?;
    let mut config: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("parsing {}", config_path.display()))?;
    let weights = find_weights(&args.model)?;
    let tensors = read_tensors(&weights)?;
    let canonical = canonicalize(tensors, ties_word_embeddings(&config))?;
    fill_model_identity(&mut config, canonical.tensors.keys())
        .with_context(|| format!("completing {}", config_path.display()))?;
    check_config_shapes(&config_path, &config, &canonical.tensors)?;

    let options = SaveOptions {
        dtype: args.dtype,
        tokenizer_dir: Some(args.model.clone()),
    };
    save_hf_tensors(&args.out, &config, &canonical.tensors, &options)?;

    let dtype = args.dtype.map_or("as read".to_string(), kind_name);
    println!(
        "wrote {}: config.json, model.safetensors ({} tensors, {dtype}) from {}",
        args.out.display(),
        canonical.tensors.len(),
        weights.display()
    );
    if !canonical.renamed.is_empty() {
        println!("renamed {} keys:", canonical.renamed.len());
        const SHOWN: usize = 4;
        for (old, new) in canonical.renamed.iter().take(SHOWN) {
            println!("  {old} -> {new}");
        }
        if canonical.renamed.len() > SHOWN {
            println!("  ... and {} more", canonical.renamed.len() - SHOWN);
        }
    }
    for (label, keys) in [
        ("left out tied duplicates", &canonical.dropped_tied),
        ("left out buffers", &canonical.dropped_buffers),
    ] {
        if !keys.is_empty() {
            println!("{label}: {}", keys.join(", "));
        }
    }
    let tokenizer: Vec<&str> = TOKENIZER_FILES
        .into_iter()
        .filter(|name| args.model.join(name).is_file())
        .collect();
    if tokenizer.is_empty() {
        println!("no tokenizer files in {}", args.model.display());
    } else {
        println!("copied {}", tokenizer.join(", "));
    }
    Ok(())
}

/// Adds `model_type` and `architectures` when an old config lacks them, from the weight
/// names (`transformers` needs both to pick the class).
fn fill_model_identity<'a>(
    config: &mut serde_json::Value,
    keys: impl Iterator<Item = &'a String> + Clone,
) -> anyhow::Result<()> {
    let Some(fields) = config.as_object_mut() else {
        bail!("the config is not a JSON object");
    };
    let has = |part: &str| {
        keys.clone()
            .any(|k| k.starts_with(part) || k.contains(&format!(".{part}")))
    };
    let model_type = match fields.get("model_type").and_then(|v| v.as_str()) {
        Some(known) => known.to_string(),
        None if has("transformer.layer.") => "distilbert".to_string(),
        None if has("roberta.") => "roberta".to_string(),
        None if has("encoder.layer.") => "bert".to_string(),
        None => bail!("no `model_type`, and the weights are neither BERT, DistilBERT nor RoBERTa"),
    };
    if !fields.contains_key("architectures") {
        let class = match model_type.as_str() {
            "distilbert" => "DistilBert",
            "bert" => "Bert",
            "roberta" => "Roberta",
            other => bail!("no `architectures` for model type `{other}`"),
        };
        let head = if has("cls.predictions.") || has("vocab_projector.") || has("lm_head.") {
            "ForMaskedLM"
        } else if has("qa_outputs.") {
            "ForQuestionAnswering"
        } else if has("classifier.") {
            "ForSequenceClassification"
        } else {
            "Model"
        };
        log::warn!("config has no `architectures`; writing {class}{head} from the weight names");
        fields.insert(
            "architectures".into(),
            serde_json::json!([format!("{class}{head}")]),
        );
    }
    fields.insert("model_type".into(), model_type.into());
    Ok(())
}
