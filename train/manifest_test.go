package train

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestResumeRefusesDamagedCheckpoint: a byte changed anywhere in any file
// of the checkpoint (latest, manifest, state, weights, optimizer moments)
// is refused on resume with an error naming a checkpoint file, instead of
// training on from damaged weights; restoring the byte resumes.
func TestResumeRefusesDamagedCheckpoint(t *testing.T) {
	out := t.TempDir()
	cfg := func(steps int) Config { return resumableConfig(out, steps) }
	if _, err := Run(context.Background(), cfg(2)); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(out, checkpointDir, "step-00000002")
	files := []string{filepath.Join(out, checkpointDir, latestFile)}
	for _, n := range []string{manifestFile, stateFile, weightsFile, optimizerFile} {
		files = append(files, filepath.Join(dir, n))
	}
	checked := 0
	for _, path := range files {
		orig, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for i := range orig {
			masks := []byte{0xff}
			if i%5 == 0 {
				masks = append(masks, 0x01) // a single bit, too
			}
			for _, mask := range masks {
				b := append([]byte(nil), orig...)
				b[i] ^= mask
				if err := os.WriteFile(path, b, 0o644); err != nil {
					t.Fatal(err)
				}
				_, err := resume(cfg(4))
				if err == nil || !strings.Contains(err.Error(), "to start over") {
					t.Fatalf("%s byte %d ^ %#x: resume error %v, want a refusal", filepath.Base(path), i, mask, err)
				}
				checked++
			}
		}
		if err := os.WriteFile(path, orig, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d damaged checkpoints refused", checked)
	// Without its manifest a checkpoint is refused too, naming the file.
	m := filepath.Join(dir, manifestFile)
	b, _ := os.ReadFile(m)
	os.Remove(m)
	if _, err := resume(cfg(4)); err == nil || !strings.Contains(err.Error(), manifestFile) {
		t.Errorf("no manifest: error %v", err)
	}
	os.WriteFile(m, b, 0o644)
	res, err := Run(context.Background(), cfg(4))
	if err != nil || res.ResumedFrom != 2 {
		t.Fatalf("intact checkpoint: resumed from %v, %v; want step 2", res, err)
	}
}

// TestDamagedWeightsErrorNamesFile: the refusal names the damaged file.
func TestDamagedWeightsErrorNamesFile(t *testing.T) {
	out := t.TempDir()
	c := resumableConfig(out, 2)
	if _, err := Run(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{weightsFile, optimizerFile, stateFile} {
		path := filepath.Join(out, checkpointDir, "step-00000002", name)
		orig, _ := os.ReadFile(path)
		b := append([]byte(nil), orig...)
		b[len(b)-1] ^= 0x40
		os.WriteFile(path, b, 0o644)
		_, err := Run(context.Background(), resumableConfig(out, 4))
		if err == nil || !strings.Contains(err.Error(), path+": damaged") {
			t.Errorf("%s damaged: error %v, want one naming it", name, err)
		}
		os.WriteFile(path, orig, 0o644)
	}
}

// resumableConfig trains the bigram model into out under a constant
// schedule, so that a longer run resumes a shorter one's checkpoint.
func resumableConfig(out string, steps int) Config {
	h := testHyper(steps)
	h.Schedule, h.MinLR, h.Warmup = "constant", 0, 0
	return Config{Hyper: h, Model: newBigram(8, 1), Data: cyclicRows(4, 8), Output: out, CheckpointEvery: 2}
}
