#!/usr/bin/env bash
# Set up (or refresh) the project's virtual environment in .venv: Python 3.11+, the CPU build of
# PyTorch when no torch is present (a plain `torch` requirement would pull a multi-GB CUDA build),
# then normbank itself in editable mode with its dev extra. Safe to run again: it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${NORMBANK_VENV:-.venv}
TORCH_SPEC=${NORMBANK_TORCH_SPEC:-torch==2.13.0}   # CPU build; on these machines it installs from local disk
EXTRAS=${NORMBANK_EXTRAS:-dev}

find_python() {
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "bootstrap: Python 3.11 or newer is required" >&2; return 1
}

if [ ! -x "$VENV/bin/python" ]; then
  echo "bootstrap: creating $VENV" >&2
  "$(find_python)" -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip --quiet --disable-pip-version-check)

if ! "$PY" -c 'import torch' >/dev/null 2>&1; then
  echo "bootstrap: installing $TORCH_SPEC (CPU build)" >&2
  "${PIP[@]}" install "$TORCH_SPEC" 2>&1 | grep -v "^WARNING: Location" >&2 || true
  "$PY" -c 'import torch' || { echo "bootstrap: torch failed to install" >&2; exit 1; }
fi

stamp="$VENV/.normbank-installed-$EXTRAS"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "bootstrap: installing normbank[$EXTRAS] (editable)" >&2
  "${PIP[@]}" install -c scripts/constraints.txt -e ".[$EXTRAS]" 2>&1 | grep -v "^WARNING: Location" >&2 || true
  "$PY" -c 'import normbank, schema, ingest, api, sentence_transformers, faiss, fastapi' ||
    { echo "bootstrap: installation is incomplete" >&2; exit 1; }
  touch "$stamp"
fi
