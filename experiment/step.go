package experiment

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/longrecipe/longrecipe/internal/atomicfile"
)

// StepFileName is the record each finished step writes into its folder.
const StepFileName = "step.json"

// pendingFileName marks a resumable step's folder while it runs; it holds
// the step's input hash, so that a rerun with other settings starts over.
const pendingFileName = "pending.json"

// StepRecord is the content of step.json: the step's input hash (its
// settings and the hashes of the steps it reads), the settings for a person
// to read, and what the step produced.
type StepRecord struct {
	Step     string          `json:"step"`
	Hash     string          `json:"input_hash"`
	Settings any             `json:"settings"`
	Outputs  json.RawMessage `json:"outputs,omitempty"`
	Finished time.Time       `json:"finished"`
	Seconds  float64         `json:"seconds"`
}

// hashOf hashes settings (which include the hashes of upstream steps).
func hashOf(settings any) (string, error) {
	b, err := json.Marshal(settings)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:]), nil
}

func readStep(dir string) (*StepRecord, error) {
	p := filepath.Join(dir, StepFileName)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var rec StepRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return &rec, nil
}

// step runs fn to fill dir, unless dir/step.json records the same input
// hash, in which case it is skipped. out (a pointer, or nil) receives fn's
// outputs either way. A resumable step keeps a partial folder left by an
// interrupted run with the same hash (training resumes from its
// checkpoints); any other step starts from an empty folder. It returns the
// step's hash, for the steps downstream to include in their settings.
func (x *runner) step(name, dir string, settings any, resumable bool, out any, fn func(dir string) (any, error)) (string, error) {
	hash, err := hashOf(settings)
	if err != nil {
		return "", fmt.Errorf("%s: settings: %w", name, err)
	}
	rec, err := readStep(dir)
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	if rec != nil && rec.Hash == hash {
		x.logf("%-28s done already (%s)", name, dir)
		if out != nil && len(rec.Outputs) > 0 {
			if err := json.Unmarshal(rec.Outputs, out); err != nil {
				return "", fmt.Errorf("%s: %s: outputs: %w", name, filepath.Join(dir, StepFileName), err)
			}
		}
		return hash, nil
	}
	pending := filepath.Join(dir, pendingFileName)
	keep := false
	if resumable && rec == nil {
		b, err := os.ReadFile(pending)
		keep = err == nil && string(b) == hash
	}
	if keep {
		x.logf("%-28s resuming in %s", name, dir)
	} else if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("%s: clear %s: %w", name, dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	if err := atomicfile.WriteFile(pending, []byte(hash)); err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	x.logf("%-28s running → %s", name, dir)
	start := time.Now()
	res, err := fn(dir)
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	outs, err := json.Marshal(res)
	if err != nil {
		return "", fmt.Errorf("%s: outputs: %w", name, err)
	}
	rec = &StepRecord{Step: name, Hash: hash, Settings: settings, Outputs: outs, Finished: time.Now().UTC(), Seconds: time.Since(start).Seconds()}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, StepFileName), append(b, '\n')); err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	// A merge replaces its folder, pending.json included.
	if err := os.Remove(pending); err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	x.logf("%-28s finished in %.1fs", name, rec.Seconds)
	if out != nil {
		if err := json.Unmarshal(outs, out); err != nil {
			return "", fmt.Errorf("%s: outputs: %w", name, err)
		}
	}
	return hash, nil
}
