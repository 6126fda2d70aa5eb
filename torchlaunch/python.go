package torchlaunch

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/longrecipe/longrecipe/internal/atomicfile"
	"github.com/longrecipe/longrecipe/scaleout"
)

// Side is the copy of the Python side a run uses: Dir holds
// longrecipe_torch/ (it goes on PYTHONPATH), requirements.lock and
// pyenv.sh; How says which copy it is, in words (doctor shows it).
type Side struct {
	Dir, How string
}

// PythonSide returns the Python side to run: the source tree named by
// $LONGRECIPE_ROOT (the developer override: edits there apply at once),
// else the copy embedded in this binary, unpacked into the cache
// ($LONGRECIPE_CACHE, default ~/.cache/longrecipe) as scaleout-HASH on
// first use.
func PythonSide() (Side, error) {
	if r := os.Getenv("LONGRECIPE_ROOT"); r != "" {
		dir := filepath.Join(r, "scaleout")
		if !isFile(filepath.Join(dir, "longrecipe_torch", "__init__.py")) {
			return Side{}, fmt.Errorf("LONGRECIPE_ROOT=%s has no scaleout/longrecipe_torch", r)
		}
		abs, err := filepath.Abs(dir)
		return Side{Dir: abs, How: "the source tree of $LONGRECIPE_ROOT, the developer override"}, err
	}
	dir, err := Unpack(cacheDir())
	if err != nil {
		return Side{}, err
	}
	return Side{Dir: dir, How: "embedded in this binary, content " + scaleout.Hash()}, nil
}

// Unpack writes the embedded Python side into cache/scaleout-HASH (once:
// an existing complete copy is reused) and returns that folder. The copy
// is written beside it and renamed into place, so a concurrent or killed
// unpack never leaves half of one.
func Unpack(cache string) (string, error) {
	dir := filepath.Join(cache, "scaleout-"+scaleout.Hash())
	if isFile(filepath.Join(dir, ".complete")) {
		return dir, nil
	}
	tmp, err := os.MkdirTemp(cache, ".scaleout-")
	if err != nil {
		if err = os.MkdirAll(cache, 0o755); err == nil {
			tmp, err = os.MkdirTemp(cache, ".scaleout-")
		}
		if err != nil {
			return "", fmt.Errorf("torch backend: unpacking the Python side: %w", err)
		}
	}
	defer os.RemoveAll(tmp)
	err = fs.WalkDir(scaleout.Files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := scaleout.Files.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(tmp, filepath.Dir(p)), 0o755); err != nil {
			return err
		}
		return atomicfile.WriteFile(filepath.Join(tmp, p), b)
	})
	if err == nil {
		err = atomicfile.WriteFile(filepath.Join(tmp, ".complete"), []byte(scaleout.Hash()+"\n"))
	}
	if err == nil {
		if err = os.Rename(tmp, dir); err != nil && isFile(filepath.Join(dir, ".complete")) {
			err = nil // another process unpacked the same copy first
		}
	}
	if err != nil {
		return "", fmt.Errorf("torch backend: unpacking the Python side into %s: %w", dir, err)
	}
	return dir, nil
}

func cacheDir() string {
	if c := os.Getenv("LONGRECIPE_CACHE"); c != "" {
		return c
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "longrecipe-cache")
	}
	return filepath.Join(home, ".cache", "longrecipe")
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// Python returns the interpreter to use: explicit, else $LONGRECIPE_PYTHON,
// else the cached environment that pyenv.sh in side (a Side's Dir)
// installs on first use (a few minutes; its progress goes to stderr).
func Python(explicit, side string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	if p := os.Getenv("LONGRECIPE_PYTHON"); p != "" {
		return p, nil
	}
	if _, err := exec.LookPath("python3"); err != nil && os.Getenv("PYTHON") == "" {
		return "", errors.New("torch backend: python3 not found: install Python >= 3.10 (e.g. apt-get install python3 python3-venv), then run bash scripts/pyenv.sh")
	}
	cmd := exec.Command("bash", filepath.Join(side, "pyenv.sh"))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("torch backend: installing the Python side with %s failed (%v); see its messages above", filepath.Join(side, "pyenv.sh"), err)
	}
	p := strings.TrimSpace(string(out))
	if p == "" {
		return "", errors.New("torch backend: pyenv.sh printed no interpreter")
	}
	return p, nil
}

// CachedPython returns the newest complete cached environment's python
// without installing anything ("" when there is none).
func CachedPython() string {
	matches, _ := filepath.Glob(filepath.Join(cacheDir(), "pyenv-*", ".complete"))
	best, bestT := "", int64(0)
	for _, m := range matches {
		st, err := os.Stat(m)
		py := filepath.Join(filepath.Dir(m), "bin", "python")
		if err == nil && st.ModTime().UnixNano() > bestT && isFile(py) {
			best, bestT = py, st.ModTime().UnixNano()
		}
	}
	return best
}
