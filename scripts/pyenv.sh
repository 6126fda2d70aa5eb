#!/usr/bin/env bash
# Installs the Python side's pinned environment and prints its python:
#   PY=$(bash scripts/pyenv.sh)
# The script itself lives in scaleout/pyenv.sh (it travels, embedded, with
# the longrecipe binary).
exec bash "$(dirname "$0")/../scaleout/pyenv.sh" "$@"
