#!/usr/bin/env bash
# Installs the Python side (the PyTorch scale-out package, its pinned
# dependencies and the test references: transformers, gguf, pyarrow) into a
# cached virtual environment outside the clone, then prints the path of its
# python. Reuses the environment while scaleout/requirements.lock is
# unchanged. Cache: $LONGRECIPE_CACHE (default ~/.cache/longrecipe).
#
#   PY=$(bash scripts/pyenv.sh)     # install if absent, print the interpreter
#
# It sits beside requirements.lock in scaleout/, in the clone and in the
# copy of scaleout/ that the longrecipe binary embeds and unpacks.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
lock="$here/requirements.lock"
cache="${LONGRECIPE_CACHE:-$HOME/.cache/longrecipe}"
py="${PYTHON:-python3}"
command -v "$py" >/dev/null || { echo "pyenv: $py not found: install Python >= 3.10" >&2; exit 1; }
key=$( (cat "$lock"; "$py" -c 'import sys; print(sys.version_info[:2])') | sha256sum | cut -c1-12)
env="$cache/pyenv-$key"
if [ ! -x "$env/bin/python" ] || [ ! -f "$env/.complete" ]; then
  echo "pyenv: installing the Python side into $env (pinned, first run takes a few minutes)" >&2
  rm -rf "$env"
  mkdir -p "$cache"
  "$py" -m venv "$env" >&2
  "$env/bin/pip" install --quiet --progress-bar off --disable-pip-version-check -r "$lock" >&2
  touch "$env/.complete"
fi
# The package itself is used from its folder (PYTHONPATH), never installed,
# so edits need no reinstall.
echo "$env/bin/python"
