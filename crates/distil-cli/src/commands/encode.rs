//! `distil encode`: for every line of a text file, the last hidden state, the pooled ([CLS] or
//! BERT pooler) vector and, when the model has a vocabulary head, its logits, written to
//! one safetensors file so any tool's numbers can be compared with ours. `--dtype bf16` runs
//! the weights and the forward in bf16 (as `transformers` does when loaded with `dtype=torch.bfloat16`)
//! and still writes fp32, so both precisions' files are compared the same way.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use distil_amp::InferenceModeGuard;
use distil_core::{EncoderInput, Objective};
use distil_data::{load_tokenizer, SpecialToken};
use distil_models::AnyModel;
use tch::{Device, Kind, Tensor};
use tokenizers::{TruncationParams, TruncationStrategy};

use crate::cli::GlobalOpts;

#[derive(Debug, Args)]
pub struct EncodeArgs {
    /// A BERT, DistilBERT, RoBERTa (with or without an MLM head) or GPT-2 directory.
    #[arg(long)]
    pub model: PathBuf,
    /// Tokenizer directory, file or Hub id; defaults to the model directory.
    #[arg(long)]
    pub tokenizer: Option<String>,
    /// A text file; each line is encoded on its own (truncated to the model's positions).
    #[arg(long)]
    pub input: PathBuf,
    /// Output `.safetensors`: per line `i`, `input_ids.i` [seq], `last_hidden_state.i`
    /// [seq, hidden], `pooled.i` [hidden] and `mlm_logits.i` [seq, vocab] (masked LMs with
    /// their head) or `lm_logits.i` (GPT-2's next-token logits).
    #[arg(long)]
    pub out: PathBuf,
    /// Lines per forward pass.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Dtype of the weights and the forward; the written tensors are fp32 either way.
    #[arg(long, value_enum, default_value_t = EncodeDtype::Fp32)]
    pub dtype: EncodeDtype,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EncodeDtype {
    Fp32,
    Bf16,
}

pub fn run(global: &GlobalOpts, args: &EncodeArgs) -> anyhow::Result<()> {
    let device = global.device.resolve().context("resolving --device")?;
    let mut loaded = AnyModel::from_pretrained(&args.model, device)
        .with_context(|| format!("loading {}", args.model.display()))?;
    if args.dtype == EncodeDtype::Bf16 {
        loaded.vs.bfloat16();
    }
    let tokenizer_spec = args
        .tokenizer
        .clone()
        .unwrap_or_else(|| args.model.display().to_string());
    let mut tokenizer = load_tokenizer(&tokenizer_spec)?;
    let max_length = loaded.config.max_position_embeddings() as usize;
    tokenizer
        .with_truncation(Some(TruncationParams {
            max_length,
            strategy: TruncationStrategy::LongestFirst,
            ..Default::default()
        }))
        .map_err(|e| anyhow::anyhow!("setting truncation: {e}"))?;
    // Padding is masked out, but RoBERTa counts positions over the ids that are not padding.
    let pad_id = SpecialToken::Pad
        .find(&tokenizer)
        .map_or(0, |(_, id)| i64::from(id));
    let text = std::fs::read_to_string(&args.input)
        .with_context(|| format!("reading {}", args.input.display()))?;
    let lines: Vec<&str> = text.lines().collect();
    if lines.is_empty() {
        bail!("{} has no lines to encode", args.input.display());
    }

    let mut named: Vec<(String, Tensor)> = Vec::new();
    for (chunk_index, chunk) in lines.chunks(args.batch_size.max(1)).enumerate() {
        let encodings = tokenizer
            .encode_batch(chunk.to_vec(), true)
            .map_err(|e| anyhow::anyhow!("tokenizing {}: {e}", args.input.display()))?;
        let longest = encodings.iter().map(|e| e.len()).max().unwrap_or(0);
        let pad = |values: &[u32], fill: i64| {
            let mut row: Vec<i64> = values.iter().map(|&v| i64::from(v)).collect();
            row.resize(longest, fill);
            row
        };
        let stack = |rows: Vec<Vec<i64>>| Tensor::from_slice2(&rows).to_device(device);
        let ids = stack(encodings.iter().map(|e| pad(e.get_ids(), pad_id)).collect());
        let mask = stack(
            encodings
                .iter()
                .map(|e| pad(e.get_attention_mask(), 0))
                .collect(),
        );
        let types = stack(encodings.iter().map(|e| pad(e.get_type_ids(), 0)).collect());
        let mut input = EncoderInput::new(&ids, &mask);
        if loaded.config.takes_token_types() {
            input = input.with_token_types(&types);
        }
        // Forward only, and the outputs are only copied out: no autograd bookkeeping needed.
        let out = {
            let _inference = InferenceModeGuard::enter()?;
            loaded.model.forward(&input)
        };
        for (row, encoding) in encodings.iter().enumerate() {
            let line = chunk_index * args.batch_size.max(1) + row;
            let len = encoding.len() as i64;
            let row = row as i64;
            let cpu = |t: &Tensor| t.get(row).to_device(Device::Cpu).contiguous();
            let fp32 = |t: &Tensor| cpu(t).to_kind(Kind::Float);
            named.push((format!("input_ids.{line}"), cpu(&ids).narrow(0, 0, len)));
            let last = fp32(out.encoder.last_hidden_state()).narrow(0, 0, len);
            named.push((format!("last_hidden_state.{line}"), last));
            named.push((format!("pooled.{line}"), fp32(&out.pooled)));
            if let Some(logits) = &out.vocab_logits {
                let key = match loaded.config.objective() {
                    Objective::MaskedLm => "mlm_logits",
                    Objective::CausalLm => "lm_logits",
                };
                named.push((format!("{key}.{line}"), fp32(logits).narrow(0, 0, len)));
            }
        }
    }
    write_safetensors(&named, &args.out)?;
    println!(
        "wrote {} ({} lines, {} tensors)",
        args.out.display(),
        lines.len(),
        named.len()
    );
    Ok(())
}

/// Writes through a temporary file beside `path` and a rename, so a failed run leaves no
/// half-written file.
fn write_safetensors(named: &[(String, Tensor)], path: &std::path::Path) -> anyhow::Result<()> {
    let tmp = path.with_extension("safetensors.tmp");
    let contiguous: Vec<(&str, Tensor)> = named
        .iter()
        .map(|(n, t)| (n.as_str(), t.contiguous()))
        .collect();
    let written = Tensor::write_safetensors(&contiguous, &tmp)
        .with_context(|| format!("writing {}", tmp.display()))
        .and_then(|()| {
            std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))
        });
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}
