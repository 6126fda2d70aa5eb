#!/usr/bin/env bash
# Builds llama.cpp from a registry package's source — the sdist of PyPI's
# llama-cpp-python (pinned below), which vendors llama.cpp — into a virtual
# environment outside the clone, and prints the path of its python (which
# can `import llama_cpp`). Only the library is built (no examples, tests,
# tools or server), CPU only, under nice. Reused while the pin is unchanged.
# Not part of `make test`: the native build takes 15+ minutes on two cores.
#
#   LPY=$(bash scripts/llamacpp.sh)
#
# Cache: $LONGRECIPE_CACHE (default ~/.cache/longrecipe)/llamacpp-$VERSION/
set -euo pipefail
version=0.3.36
cache="${LONGRECIPE_CACHE:-$HOME/.cache/longrecipe}/llamacpp-$version"
py="${PYTHON:-python3}"
jobs="${JOBS:-2}"
if [ ! -x "$cache/venv/bin/python" ] || [ ! -f "$cache/.complete" ]; then
  echo "llamacpp.sh: building llama-cpp-python==$version from source into $cache (15+ min)" >&2
  rm -rf "$cache"
  mkdir -p "$cache/sdist"
  "$py" -m pip download --quiet --disable-pip-version-check --no-binary llama-cpp-python --no-deps \
    "llama-cpp-python==$version" -d "$cache/sdist" >&2
  "$py" -m venv "$cache/venv" >&2
  "$cache/venv/bin/pip" install --quiet --disable-pip-version-check numpy >&2
  CMAKE_BUILD_PARALLEL_LEVEL="$jobs" \
  CMAKE_ARGS="-DGGML_NATIVE=ON -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_CURL=OFF -DLLAVA_BUILD=OFF -DLLAMA_LLAVA=OFF" \
    nice -n 19 "$cache/venv/bin/pip" install --disable-pip-version-check \
    "$cache"/sdist/llama_cpp_python-"$version".tar.gz >&2 || {
      echo "llamacpp.sh: build failed (see above)" >&2; exit 1; }
  touch "$cache/.complete"
fi
echo "$cache/venv/bin/python"
