"""What the fixture generators (`make_fixtures.py`, `make_roberta_fixtures.py`,
`make_gpt2_fixtures.py`) share: the command line, a tiny byte-level BPE, the re-drawn weights
of a tiny random model, its saved folder, and the reference files its parity tests read.
Imports only torch, safetensors and tokenizers, so each script's version pins apply.
"""

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from tokenizers import ByteLevelBPETokenizer

ROOT = Path(__file__).resolve().parent.parent


def output_dir(doc: str) -> Path:
    """The folder `--out` names (default data/fixtures), created; seeds torch with 0."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "data/fixtures")
    out: Path = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    return out


def scratch_dir(path: Path) -> Path:
    """`path`, emptied if it exists (the caller removes it when done)."""
    if path.exists():
        shutil.rmtree(path)
    return path


def train_byte_level_bpe(text: Path, lines: int, vocab_size: int, special_tokens: list[str]):
    """A byte-level BPE of `vocab_size` entries trained on the first `lines` non-empty lines of
    `text`, the special tokens first: its vocabulary, its merges as pairs, and the text of its
    `merges.txt`."""
    stripped = [line.strip() for line in text.read_text().splitlines() if line.strip()]
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        stripped[:lines],
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=special_tokens,
        show_progress=False,
    )
    with tempfile.TemporaryDirectory() as tmp:
        vocab_file, merges_file = bpe.save_model(tmp)
        vocab = json.loads(Path(vocab_file).read_text())
        merges_text = Path(merges_file).read_text()
    merges = [tuple(line.split(" ")) for line in merges_text.splitlines() if line and not line.startswith("#version")]
    assert [vocab[t] for t in special_tokens] == list(range(len(special_tokens)))
    return vocab, merges, merges_text


def randomise(model: torch.nn.Module, seed: int) -> None:
    """Replaces HF's N(0, 0.02) init with larger random values, so attention is far from
    uniform and every bias and LayerNorm parameter matters to the reference outputs."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            if "LayerNorm" in name or "layer_norm" in name or ".ln_" in name:
                p.copy_(1.0 + 0.1 * noise if name.endswith("weight") else 0.1 * noise)
            elif "position_embeddings" in name and not p.requires_grad:
                continue  # sinusoidal table: keep HF's values
            else:
                p.copy_((0.2 if p.dim() > 1 else 0.1) * noise)


def save_model(model, directory: Path, with_bin: bool, tokenizer_dir: Path | None) -> None:
    """`save_pretrained` into a fresh `directory` (safetensors; also `pytorch_model.bin` when
    `with_bin`), plus the tokenizer files of `tokenizer_dir`, without a generation config."""
    if directory.exists():
        shutil.rmtree(directory)
    model.save_pretrained(directory)  # safetensors
    if with_bin:
        tmp = directory.with_suffix(".bin-tmp")
        model.save_pretrained(tmp, safe_serialization=False)
        shutil.move(tmp / "pytorch_model.bin", directory / "pytorch_model.bin")
        shutil.rmtree(tmp)
    if tokenizer_dir is not None:
        for f in tokenizer_dir.iterdir():
            shutil.copy(f, directory / f.name)
    gen = directory / "generation_config.json"
    if gen.exists():
        gen.unlink()


def save_reference(model, model_dir: Path, expected: Path, reference: dict, **keys_extra) -> None:
    """`expected/<name>.safetensors` (what `transformers` computed) and `<name>.keys.json`:
    HF's key lists, every state-dict entry and those `save_pretrained` wrote in `model_dir`
    (tied duplicates left out), plus `keys_extra`."""
    name = model_dir.name
    save_file(reference, str(expected / f"{name}.safetensors"))
    with safe_open(str(model_dir / "model.safetensors"), "pt") as f:
        saved = sorted(f.keys())
    keys = {"state_dict": sorted(model.state_dict()), "saved": saved, **keys_extra}
    (expected / f"{name}.keys.json").write_text(json.dumps(keys, indent=1) + "\n")


def eager_attentions(model, batch, sdpa_hidden_states) -> dict:
    """`attentions.{i}` from an eager run of `model` on `batch` (SDPA returns none), after
    checking that its hidden states are the SDPA run's. Call under `torch.no_grad()`."""
    model.set_attn_implementation("eager")
    eager = model(**batch, output_hidden_states=True, output_attentions=True)
    model.set_attn_implementation("sdpa")
    for i, h in enumerate(eager.hidden_states):
        assert torch.allclose(h, sdpa_hidden_states[i], atol=1e-5), f"eager vs sdpa {i}"
    return {f"attentions.{i}": a for i, a in enumerate(eager.attentions)}
