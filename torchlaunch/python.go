package torchlaunch

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// pkgDir is the Python package's folder inside the source tree.
const pkgDir = "scaleout"

// SourceRoot finds the repository root holding scaleout/longrecipe_torch:
// $LONGRECIPE_ROOT, else the working directory or one of its parents,
// else the executable's folder or one of its parents.
func SourceRoot() (string, error) {
	var starts []string
	if r := os.Getenv("LONGRECIPE_ROOT"); r != "" {
		if isRoot(r) {
			return filepath.Abs(r)
		}
		return "", fmt.Errorf("LONGRECIPE_ROOT=%s has no %s/longrecipe_torch", r, pkgDir)
	}
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		starts = append(starts, filepath.Dir(exe))
	}
	for _, s := range starts {
		for d := s; ; d = filepath.Dir(d) {
			if isRoot(d) {
				return d, nil
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	return "", errors.New("torch backend: cannot find the longrecipe source tree (scaleout/longrecipe_torch); run from the clone or set LONGRECIPE_ROOT")
}

func isRoot(d string) bool {
	st, err := os.Stat(filepath.Join(d, pkgDir, "longrecipe_torch", "__init__.py"))
	return err == nil && !st.IsDir()
}

// Python returns the interpreter to use: explicit, else $LONGRECIPE_PYTHON,
// else the cached environment of scripts/pyenv.sh (installed on first use,
// which takes a few minutes; its progress goes to stderr).
func Python(explicit, root string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	if p := os.Getenv("LONGRECIPE_PYTHON"); p != "" {
		return p, nil
	}
	if _, err := exec.LookPath("python3"); err != nil && os.Getenv("PYTHON") == "" {
		return "", errors.New("torch backend: python3 not found: install Python >= 3.10 (e.g. apt-get install python3 python3-venv), then run bash scripts/pyenv.sh")
	}
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "pyenv.sh"))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("torch backend: installing the Python side with scripts/pyenv.sh failed (%v); see its messages above", err)
	}
	p := strings.TrimSpace(string(out))
	if p == "" {
		return "", errors.New("torch backend: scripts/pyenv.sh printed no interpreter")
	}
	return p, nil
}

// CachedPython returns the newest complete cached environment's python
// without installing anything ("" when there is none).
func CachedPython() string {
	cache := os.Getenv("LONGRECIPE_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		cache = filepath.Join(home, ".cache", "longrecipe")
	}
	matches, _ := filepath.Glob(filepath.Join(cache, "pyenv-*", ".complete"))
	best, bestT := "", int64(0)
	for _, m := range matches {
		st, err := os.Stat(m)
		py := filepath.Join(filepath.Dir(m), "bin", "python")
		if err == nil && st.ModTime().UnixNano() > bestT && fileExists(py) {
			best, bestT = py, st.ModTime().UnixNano()
		}
	}
	return best
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
