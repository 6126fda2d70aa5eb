package recipe

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/longrecipe/longrecipe/internal/atomicfile"
)

// StageFile is the manifest each finished stage writes into its folder.
// Its presence, with a matching InputHash, marks the stage complete.
type StageFile struct {
	Stage string `json:"stage"`
	// InputHash covers the stage's settings and the manifests of the
	// stages it reads from: a change anywhere upstream reruns it.
	InputHash string `json:"input_hash"`
	// Settings are the stage's settings, for a person to read.
	Settings any `json:"settings"`
	// Outputs describes what the stage produced (counts, paths, losses).
	Outputs  any       `json:"outputs,omitempty"`
	Finished time.Time `json:"finished"`
	Seconds  float64   `json:"seconds"`
}

// StageFileName is the manifest name inside each stage folder.
const StageFileName = "stage.json"

// stage is one step of the recipe.
type stage struct {
	name string
	dir  string // folder under the run folder
	// deps are the stages whose outputs this one reads.
	deps []string
	// settings is what, besides deps, determines the output.
	settings any
	// resumable stages keep a partial folder between runs (training
	// resumes from its checkpoints); others start from an empty folder.
	resumable bool
	// skip reports that the recipe disables this stage.
	skip bool
	run  func(ctx context.Context, dir string) (outputs any, err error)
}

// Stages lists the stage names in order.
var Stages = []string{"prepare", "extend", "replay", "anneal", "merge", "eval"}

func stageIndex(name string) int {
	for i, s := range Stages {
		if s == name {
			return i
		}
	}
	return -1
}

// inputHash hashes a stage's settings with its dependencies' hashes.
func inputHash(settings any, depHashes []string) (string, error) {
	b, err := json.Marshal(settings)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write(b)
	for _, d := range depHashes {
		io.WriteString(h, "\x00"+d)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// readStageFile returns the stage manifest in dir, or nil if absent.
func readStageFile(dir string) (*StageFile, error) {
	b, err := os.ReadFile(filepath.Join(dir, StageFileName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var sf StageFile
	if err := json.Unmarshal(b, &sf); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, StageFileName), err)
	}
	return &sf, nil
}

func writeStageFile(dir string, sf *StageFile) error {
	b, err := json.MarshalIndent(sf, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, StageFileName), append(b, '\n'))
}

// runStages runs stages in order. A stage whose folder holds a stage.json
// with the expected input hash is skipped; from names the first stage to
// rerun regardless ("" for none).
func runStages(ctx context.Context, stages []*stage, from string, log io.Writer) (map[string]*StageFile, error) {
	fromIdx := len(Stages)
	if from != "" {
		fromIdx = stageIndex(from)
		if fromIdx < 0 {
			return nil, fmt.Errorf("--from-stage %q: want one of %v", from, Stages)
		}
	}
	hashes := map[string]string{}
	done := map[string]*StageFile{}
	for _, st := range stages {
		if st.skip {
			fmt.Fprintf(log, "stage %-8s skipped (disabled in the recipe)\n", st.name)
			continue
		}
		var deps []string
		for _, d := range st.deps {
			h, ok := hashes[d]
			if !ok {
				return nil, fmt.Errorf("stage %s needs stage %s, which is disabled", st.name, d)
			}
			deps = append(deps, h)
		}
		hash, err := inputHash(st.settings, deps)
		if err != nil {
			return nil, fmt.Errorf("stage %s: %w", st.name, err)
		}
		hashes[st.name] = hash
		prev, err := readStageFile(st.dir)
		if err != nil {
			return nil, fmt.Errorf("stage %s: %w", st.name, err)
		}
		forced := stageIndex(st.name) >= fromIdx
		if prev != nil && prev.InputHash == hash && !forced {
			fmt.Fprintf(log, "stage %-8s done already (%s)\n", st.name, st.dir)
			done[st.name] = prev
			continue
		}
		// Stale or forced: a non-resumable stage, or a resumable one whose
		// inputs changed or that is forced, starts from an empty folder.
		if prev != nil || forced || !st.resumable {
			if err := os.RemoveAll(st.dir); err != nil {
				return nil, fmt.Errorf("stage %s: clear %s: %w", st.name, st.dir, err)
			}
		} else if fi, err := os.Stat(st.dir); err == nil && fi.IsDir() {
			fmt.Fprintf(log, "stage %-8s resuming in %s\n", st.name, st.dir)
		}
		if err := os.MkdirAll(st.dir, 0o755); err != nil {
			return nil, fmt.Errorf("stage %s: %w", st.name, err)
		}
		fmt.Fprintf(log, "stage %-8s running → %s\n", st.name, st.dir)
		start := time.Now()
		out, err := st.run(ctx, st.dir)
		if err != nil {
			return nil, fmt.Errorf("stage %s: %w", st.name, err)
		}
		sf := &StageFile{Stage: st.name, InputHash: hash, Settings: st.settings, Outputs: out, Finished: time.Now().UTC(), Seconds: time.Since(start).Seconds()}
		if err := writeStageFile(st.dir, sf); err != nil {
			return nil, fmt.Errorf("stage %s: %w", st.name, err)
		}
		fmt.Fprintf(log, "stage %-8s finished in %.1fs\n", st.name, sf.Seconds)
		done[st.name] = sf
	}
	return done, nil
}
