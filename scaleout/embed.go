// Package scaleout carries the Python side of "longrecipe train --backend
// torch" inside the Go binary: the longrecipe_torch package, its pinned
// requirements and the script that installs them (pyenv.sh), as they were
// when the binary was built. torchlaunch unpacks them into the cache on
// first use, in a folder named by Hash, so a copied or installed binary
// needs no clone.
package scaleout

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"sort"
)

// Files holds longrecipe_torch/*.py, requirements.lock, pyproject.toml
// and pyenv.sh, at the paths they have under scaleout/.
//
//go:embed longrecipe_torch/*.py requirements.lock pyproject.toml pyenv.sh
var Files embed.FS

// Hash is the first 12 hex digits of the SHA-256 of every embedded file's
// path and content, in path order: the name of the unpacked copy.
func Hash() string {
	var names []string
	fs.WalkDir(Files, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, p)
		}
		return nil
	})
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		b, _ := Files.ReadFile(n)
		h.Write([]byte(n))
		h.Write([]byte{0})
		h.Write(b)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}
