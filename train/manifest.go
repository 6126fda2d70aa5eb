package train

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"slices"

	"github.com/longrecipe/longrecipe/internal/atomicfile"
	"github.com/longrecipe/longrecipe/internal/paths"
)

// A checkpoint's manifest.json lists the size and SHA-256 of each of its
// other files. It is written last (atomically), after every file it
// covers and before "latest" names the checkpoint, and resume checks it
// before reading anything else of the checkpoint: a changed byte in the
// weights, the optimizer moments or the state is refused, naming the file.
// The manifest itself is checked by being read back in its canonical form
// (the bytes json.Marshal writes), so a changed byte in it is caught too.
const (
	manifestFile   = "manifest.json"
	manifestFormat = "longrecipe-train-checkpoint-manifest/1"
)

// manifestCovers are the files a manifest lists, in writing order.
var manifestCovers = []string{weightsFile, optimizerFile, stateFile}

// fileSum is one file's entry in a manifest.
type fileSum struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// ckManifest is a checkpoint's manifest.json.
type ckManifest struct {
	Format string             `json:"format"`
	Files  map[string]fileSum `json:"files"`
}

// sumFile returns path's size and SHA-256.
func sumFile(path string) (fileSum, error) {
	f, err := paths.OpenRegular(path)
	if err != nil {
		return fileSum{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return fileSum{}, fmt.Errorf("%s: %w", path, err)
	}
	return fileSum{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// encodeManifest is the canonical form of m.
func encodeManifest(m *ckManifest) ([]byte, error) {
	b, err := json.Marshal(m)
	return append(b, '\n'), err
}

// writeManifest sums the covered files of the checkpoint in dir and
// writes its manifest.
func writeManifest(dir string) error {
	m := &ckManifest{Format: manifestFormat, Files: map[string]fileSum{}}
	for _, name := range manifestCovers {
		s, err := sumFile(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		m.Files[name] = s
	}
	b, err := encodeManifest(m)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, manifestFile), b)
}

// verifyManifest checks the checkpoint in dir against its manifest: the
// manifest is intact and lists exactly the covered files, and each has
// the listed size and SHA-256. The error names the file that differs.
func verifyManifest(dir string) error {
	path := filepath.Join(dir, manifestFile)
	b, err := paths.ReadRegular(path)
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w (a checkpoint without its manifest cannot be verified)", dir, err)
	}
	var m ckManifest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return fmt.Errorf("checkpoint %s: damaged: %w", path, err)
	}
	if m.Format != manifestFormat {
		return fmt.Errorf("checkpoint %s: format %q, want %q", path, m.Format, manifestFormat)
	}
	if canon, err := encodeManifest(&m); err != nil || !bytes.Equal(canon, b) {
		return fmt.Errorf("checkpoint %s: damaged (not the bytes it was written with)", path)
	}
	names := make([]string, 0, len(m.Files))
	for n := range m.Files {
		names = append(names, n)
	}
	slices.Sort(names)
	want := slices.Sorted(slices.Values(manifestCovers))
	if !slices.Equal(names, want) {
		return fmt.Errorf("checkpoint %s: lists %v, want %v", path, names, want)
	}
	for _, name := range manifestCovers {
		got, err := sumFile(filepath.Join(dir, name))
		if err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
		if w := m.Files[name]; got != w {
			return fmt.Errorf("checkpoint %s: damaged: %d bytes with SHA-256 %.12s…, the manifest says %d bytes with %.12s…",
				filepath.Join(dir, name), got.Size, got.SHA256, w.Size, w.SHA256)
		}
	}
	return nil
}
