# make test: everything CI runs. Needs only Go (and npm for the Llama 3
# tokenizer test file, which is under Meta's licence and so is fetched, not
# committed).
.PHONY: test testdata vet fuzz
test: testdata vet
	go test -count=1 -timeout 30m ./...
	$(MAKE) fuzz

testdata:
	bash scripts/testdata.sh

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	go vet ./...

# Short bounded fuzz runs; each target is listed in scripts/fuzz.sh.
fuzz:
	bash scripts/fuzz.sh
