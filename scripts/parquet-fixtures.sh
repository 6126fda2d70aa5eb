#!/usr/bin/env bash
# Regenerates the Parquet interoperability fixtures with an independent
# reader/writer (hyparquet, JavaScript; see parquet-fixtures.mjs):
#   1. go test writes shards/testdata/export.parquet with the Go exporter;
#   2. node writes data/testdata/hf-style.{parquet,json} and reads
#      export.parquet back into shards/testdata/export.hyparquet.json.
set -euo pipefail
cd "$(dirname "$0")/.."
go test ./shards -run '^TestParquetInterop$' -count=1 -args -write-parquet-fixture
mkdir -p scripts/node_modules
if [ ! -d scripts/node_modules/hyparquet-writer ]; then
  (cd scripts && npm install --no-save --silent hyparquet@1.31.5 hyparquet-writer@0.17.0)
fi
node scripts/parquet-fixtures.mjs
go test ./shards ./data -run 'Parquet' -count=1
