package stage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/longrecipe/longrecipe/internal/atomicfile"
	"github.com/longrecipe/longrecipe/internal/paths"
)

// FileName is the record of a finished stage inside its folder.
const FileName = "stage.json"

// PendingFileName marks a stage's folder while its function runs.
const PendingFileName = "pending.json"

// Record is the content of stage.json (and, without outputs and timing,
// of pending.json).
type Record struct {
	Stage string `json:"stage"`
	// InputHash covers Settings and Deps.
	InputHash string `json:"input_hash"`
	// Settings are the stage's settings, for a person to read and for the
	// runner to name what changed.
	Settings json.RawMessage `json:"settings"`
	// Deps maps the upstream stages to their input hashes.
	Deps map[string]string `json:"deps,omitempty"`
	// Inputs records the declared inputs by name (Stage.Inputs).
	Inputs map[string]*Content `json:"inputs,omitempty"`
	// Outputs is what the stage's function returned.
	Outputs  json.RawMessage `json:"outputs,omitempty"`
	Finished time.Time       `json:"finished,omitzero"`
	Seconds  float64         `json:"seconds,omitempty"`
}

// Stage is one step.
type Stage struct {
	// Name labels the stage in logs and errors, and is how later stages
	// name it in Deps.
	Name string
	// Dir is the stage's folder.
	Dir string
	// Settings is everything besides Deps that determines the output.
	Settings any
	// Deps are the names of earlier stages whose outputs this one reads.
	Deps []string
	// Inputs are the files and folders from outside the pipeline that the
	// stage reads, by the setting that names them ("data.corpus",
	// "base.model"). They key the stage by their contents; none may lie
	// inside a stage folder.
	Inputs map[string]string
	// Resumable stages keep a partial folder with the same inputs.
	Resumable bool
	// Force reruns the stage from an empty folder even if done.
	Force bool
	// Continue, when set, is asked about a folder (done or partial) whose
	// recorded inputs differ from the current ones; changed names what
	// differs, as in Changed. When it returns true the folder is kept and
	// Run continues in it instead of starting over.
	Continue func(dir string, changed []string) bool
	// Run fills dir and returns the stage's outputs (JSON-encodable, or
	// nil).
	Run func(ctx context.Context, dir string) (any, error)
}

// Runner runs stages in order and remembers their input hashes for the
// stages downstream.
type Runner struct {
	// Log receives one line per stage event (nil: discarded).
	Log io.Writer
	// Prefix starts every log line ("stage ", "experiment: ").
	Prefix string
	hashes map[string]string
	// known are the files of inputs with a hash, by resolved path: from
	// the records read, and hashed by this runner.
	known map[string]Stamp
}

// Hash returns the input hash of a stage run (or skipped) by r.
func (r *Runner) Hash(name string) (string, bool) {
	h, ok := r.hashes[name]
	return h, ok
}

func (r *Runner) logf(format string, args ...any) {
	if r.Log != nil {
		fmt.Fprintf(r.Log, r.Prefix+format+"\n", args...)
	}
}

// Run runs s unless it is done, and returns its record. When out is not
// nil, the recorded outputs are decoded into it (done or run).
func (r *Runner) Run(ctx context.Context, s Stage, out any) (*Record, error) {
	if err := CheckInputs(s); err != nil {
		return nil, err
	}
	done, err := readRecord(filepath.Join(s.Dir, FileName))
	if err != nil {
		return nil, fmt.Errorf("stage %s: %w", s.Name, err)
	}
	pending, err := readRecord(filepath.Join(s.Dir, PendingFileName))
	if err != nil {
		return nil, fmt.Errorf("stage %s: %w", s.Name, err)
	}
	rec, err := r.newRecord(s, done, pending)
	if err != nil {
		return nil, fmt.Errorf("stage %s: %w", s.Name, err)
	}
	if done != nil && done.InputHash == rec.InputHash && !s.Force {
		if !sameStamps(done.Inputs, rec.Inputs) {
			// Inputs touched but unchanged: record the new stamps so that
			// the next run need not hash them again.
			done.Inputs = rec.Inputs
			if err := writeRecord(filepath.Join(s.Dir, FileName), done); err != nil {
				return nil, fmt.Errorf("stage %s: %w", s.Name, err)
			}
		}
		r.logf("%s: done already (%s)", s.Name, s.Dir)
		return done, decodeOutputs(done, out, s.Name)
	}
	if err := r.prepareDir(s, rec, done, pending); err != nil {
		return nil, fmt.Errorf("stage %s: %w", s.Name, err)
	}
	r.logf("%s: running → %s", s.Name, s.Dir)
	start := time.Now()
	res, err := s.Run(ctx, s.Dir)
	if err != nil {
		return nil, fmt.Errorf("stage %s: %w", s.Name, err)
	}
	if rec.Outputs, err = json.Marshal(res); err != nil {
		return nil, fmt.Errorf("stage %s: outputs: %w", s.Name, err)
	}
	rec.Finished, rec.Seconds = time.Now().UTC(), time.Since(start).Seconds()
	if err := finish(s.Dir, rec); err != nil {
		return nil, fmt.Errorf("stage %s: %w", s.Name, err)
	}
	r.logf("%s: finished in %.1fs", s.Name, rec.Seconds)
	return rec, decodeOutputs(rec, out, s.Name)
}

// newRecord computes the stage's input hash from its settings, its
// dependencies' hashes and its inputs' contents (reusing the hashes the
// folder's records hold for files unchanged in size and modification
// time), and remembers it.
func (r *Runner) newRecord(s Stage, done, pending *Record) (*Record, error) {
	settings, err := json.Marshal(s.Settings)
	if err != nil {
		return nil, fmt.Errorf("settings: %w", err)
	}
	rec := &Record{Stage: s.Name, Settings: settings}
	sums, err := r.contents(s, rec, done, pending)
	if err != nil {
		return nil, err
	}
	for _, d := range s.Deps {
		h, ok := r.hashes[d]
		if !ok {
			return nil, fmt.Errorf("needs stage %s, which has not run (disabled?)", d)
		}
		if rec.Deps == nil {
			rec.Deps = map[string]string{}
		}
		rec.Deps[d] = h
	}
	b, err := json.Marshal(struct {
		Settings json.RawMessage   `json:"settings"`
		Deps     map[string]string `json:"deps"`
		Inputs   map[string]string `json:"inputs,omitempty"`
	}{settings, rec.Deps, sums})
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	rec.InputHash = hex.EncodeToString(sum[:])
	if r.hashes == nil {
		r.hashes = map[string]string{}
	}
	r.hashes[s.Name] = rec.InputHash
	return rec, nil
}

// contents records the stage's declared inputs in rec and returns their
// content hashes by name (nil when it declares none).
func (r *Runner) contents(s Stage, rec, done, pending *Record) (map[string]string, error) {
	if len(s.Inputs) == 0 {
		return nil, nil
	}
	if r.known == nil {
		r.known = map[string]Stamp{}
	}
	remember(r.known, done)
	remember(r.known, pending)
	sums := map[string]string{}
	rec.Inputs = map[string]*Content{}
	for name, path := range s.Inputs {
		start := time.Now()
		c, read, err := contentOf(path, r.known)
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", name, err)
		}
		if read >= 1<<28 {
			r.logf("%s: hashed input %s (%.1f GB) in %.1fs", s.Name, name, float64(read)/1e9, time.Since(start).Seconds())
		}
		remember(r.known, &Record{Inputs: map[string]*Content{name: c}})
		rec.Inputs[name], sums[name] = c, c.SHA256
	}
	return sums, nil
}

// prepareDir keeps a partial folder of a resumable stage with the same
// inputs and clears any other, then marks it pending.
func (r *Runner) prepareDir(s Stage, rec, done, pending *Record) error {
	// A folder holds stage.json or pending.json, not both: pending.json is
	// written into a cleared folder, or into one without stage.json.
	prev := done
	if prev == nil {
		prev = pending
	}
	keep := false
	switch {
	case s.Force:
		r.logf("%s: forced: starting over in %s", s.Name, s.Dir)
	case prev != nil && prev.InputHash != rec.InputHash:
		changed := Changed(prev, rec)
		if s.Continue != nil && s.Continue(s.Dir, changed) {
			keep = true
			r.logf("%s: inputs changed (%s): continuing in %s", s.Name, strings.Join(changed, ", "), s.Dir)
			break
		}
		r.logf("%s: inputs changed (%s): starting over in %s", s.Name, strings.Join(changed, ", "), s.Dir)
	case done == nil && pending != nil && s.Resumable:
		keep = true
		r.logf("%s: resuming in %s", s.Name, s.Dir)
	}
	if !keep {
		if err := os.RemoveAll(s.Dir); err != nil {
			return fmt.Errorf("clear %s: %w", s.Dir, err)
		}
	} else if done != nil {
		// A done stage continued becomes a partial one.
		if err := os.Remove(filepath.Join(s.Dir, FileName)); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return err
	}
	p := *rec
	return writeRecord(filepath.Join(s.Dir, PendingFileName), &p)
}

// finish writes stage.json and removes pending.json (a stage that
// replaces its folder, like a merge, may have removed it already).
func finish(dir string, rec *Record) error {
	if err := writeRecord(filepath.Join(dir, FileName), rec); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(dir, PendingFileName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Changed names what differs between two records of a stage: the settings
// whose values differ, as dotted paths into nested objects ("train.lr"),
// the upstream stages whose hashes differ ("upstream prepare") and the
// declared inputs whose contents differ ("input data.corpus").
func Changed(old, cur *Record) []string {
	out := diffJSON("", old.Settings, cur.Settings)
	for d, h := range cur.Deps {
		if old.Deps[d] != h {
			out = append(out, "upstream "+d)
		}
	}
	for n, c := range cur.Inputs {
		if o, ok := old.Inputs[n]; !ok || o.SHA256 != c.SHA256 {
			out = append(out, "input "+n)
		}
	}
	for n := range old.Inputs {
		if _, ok := cur.Inputs[n]; !ok {
			out = append(out, "input "+n)
		}
	}
	slices.Sort(out)
	if len(out) == 0 {
		out = append(out, "recorded by another version")
	}
	return out
}

// diffJSON returns the paths under prefix where two JSON values differ:
// objects are compared key by key, anything else as a whole.
func diffJSON(prefix string, a, b json.RawMessage) []string {
	var x, y map[string]json.RawMessage
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil || x == nil || y == nil {
		if jsonEqual(a, b) {
			return nil
		}
		if prefix == "" {
			prefix = "settings"
		}
		return []string{prefix}
	}
	var out []string
	for k, v := range y {
		w, ok := x[k]
		switch {
		case !ok:
			out = append(out, join(prefix, k))
		default:
			out = append(out, diffJSON(join(prefix, k), w, v)...)
		}
	}
	for k := range x {
		if _, ok := y[k]; !ok {
			out = append(out, join(prefix, k))
		}
	}
	return out
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// jsonEqual compares two JSON values after re-encoding (so that key order
// and spacing do not matter).
func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	ea, _ := json.Marshal(x)
	eb, _ := json.Marshal(y)
	return bytes.Equal(ea, eb)
}

func decodeOutputs(rec *Record, out any, name string) error {
	if out == nil || len(rec.Outputs) == 0 {
		return nil
	}
	if err := json.Unmarshal(rec.Outputs, out); err != nil {
		return fmt.Errorf("stage %s: outputs: %w", name, err)
	}
	return nil
}

// readRecord returns the record in path, or nil if there is none.
func readRecord(path string) (*Record, error) {
	b, err := paths.ReadRegular(path)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrInvalid) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var rec Record
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("%s: %w (delete the file to rerun the stage)", path, err)
	}
	return &rec, nil
}

// ReadRecord returns the stage.json in dir, or nil if the stage never
// finished there.
func ReadRecord(dir string) (*Record, error) {
	return readRecord(filepath.Join(dir, FileName))
}

func writeRecord(path string, rec *Record) error {
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(b, '\n'))
}
