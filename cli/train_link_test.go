package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTrainOutputLinkedToInput is the regression test of F4: "train
// --output LINK" where LINK is a symbolic link to the input model used to
// overwrite the input model; it is now refused, and the input is intact.
func TestTrainOutputLinkedToInput(t *testing.T) {
	mdir, data := writeTinyModel(t)
	before, err := os.ReadFile(filepath.Join(mdir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(mdir, link); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runMain("train", "--model", mdir, "--data", data, "--output", link, "--steps", "2", "--batch", "1")
	if code != 1 || !strings.Contains(stderr, "is the input") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	after, err := os.ReadFile(filepath.Join(mdir, "model.safetensors"))
	if err != nil || string(after) != string(before) {
		t.Fatalf("the input model changed (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(mdir, "checkpoints")); err == nil {
		t.Error("train wrote checkpoints into the input model")
	}
}
