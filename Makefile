# make test: everything CI runs. Needs Go, python3 (the pytest step installs
# its pinned environment once, outside the clone) and npm for the Llama 3
# tokenizer test file, which is under Meta's licence and so is fetched, not
# committed.
.PHONY: test testdata vet fuzz pytest
test: testdata vet
	go test -count=1 -timeout 30m ./...
	$(MAKE) fuzz
	$(MAKE) pytest

# The Python side (scaleout/: torch backend parity, interop with
# transformers and pyarrow). scripts/pyenv.sh installs the pinned
# environment outside the clone on first use.
pytest:
	PY=$$(bash scripts/pyenv.sh) && LONGRECIPE_PYTHON=$$PY $$PY -m pytest -q scaleout/tests

testdata:
	bash scripts/testdata.sh

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	go vet ./...

# Short fuzz runs, bounded by execution counts (scripts/fuzz-targets.txt),
# not wall time, so they pass on a busy machine too (FUZZCOUNT=N overrides).
fuzz:
	bash scripts/fuzz.sh
