package hf

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/longrecipe/longrecipe/internal/paths"
)

// Standard file names of a Hugging Face checkpoint folder.
const (
	SingleFileName = "model.safetensors"
	IndexFileName  = "model.safetensors.index.json"
	ConfigFileName = "config.json"
)

// Checkpoint is a model's weights: one safetensors file, or several shards
// listed by model.safetensors.index.json. Its methods are safe for
// concurrent use until Close.
type Checkpoint struct {
	dir     string
	files   []*File        // shards in file-name order
	where   map[string]int // tensor name → index into files
	names   []string       // shard order, then offset order
	sharded bool
}

// shardIndex is model.safetensors.index.json.
type shardIndex struct {
	Metadata  map[string]any    `json:"metadata"`
	WeightMap map[string]string `json:"weight_map"`
}

// OpenCheckpoint opens the weights of the model folder dir: the shards
// named by model.safetensors.index.json when it exists, otherwise
// model.safetensors (both at once is an error: one of them is stale). dir may also be the path of a single .safetensors
// file. Every tensor of the index must be in its shard, every tensor of a
// shard must be in the index, and no tensor may appear twice.
func OpenCheckpoint(dir string) (*Checkpoint, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("open checkpoint: %w", err)
	}
	if !st.IsDir() {
		return openSingle(filepath.Dir(dir), dir)
	}
	indexPath := filepath.Join(dir, IndexFileName)
	data, err := paths.ReadRegular(indexPath)
	switch {
	case err == nil:
		if _, err := os.Stat(filepath.Join(dir, SingleFileName)); err == nil {
			return nil, fmt.Errorf("%s: both %s and %s exist; remove the stale one", dir, SingleFileName, IndexFileName)
		}
		return openSharded(dir, indexPath, data)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("open checkpoint: %w", err)
	}
	single := filepath.Join(dir, SingleFileName)
	if _, err := os.Stat(single); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: no %s or %s (not a Hugging Face safetensors model folder)", dir, SingleFileName, IndexFileName)
		}
		return nil, fmt.Errorf("open checkpoint: %w", err)
	}
	return openSingle(dir, single)
}

func openSingle(dir, path string) (*Checkpoint, error) {
	f, err := OpenSafetensors(path)
	if err != nil {
		return nil, err
	}
	c := &Checkpoint{dir: dir, files: []*File{f}, where: map[string]int{}}
	for _, t := range f.tensors {
		c.where[t.Name] = 0
		c.names = append(c.names, t.Name)
	}
	return c, nil
}

func openSharded(dir, indexPath string, data []byte) (*Checkpoint, error) {
	var idx shardIndex
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("%s: bad JSON: %w", indexPath, err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, fmt.Errorf("%s: empty or missing weight_map", indexPath)
	}
	shardNames := map[string]bool{}
	for tensor, file := range idx.WeightMap {
		if file == "" || file != filepath.Base(file) || file == "." || file == ".." || strings.ContainsAny(file, `/\`) {
			return nil, fmt.Errorf("%s: tensor %q maps to %q, which is not a plain file name in the folder", indexPath, tensor, file)
		}
		shardNames[file] = true
	}
	c := &Checkpoint{dir: dir, where: map[string]int{}, sharded: true}
	for _, name := range sortedKeys(shardNames) {
		path := filepath.Join(dir, name)
		if _, err := os.Stat(path); err != nil {
			c.Close()
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("%s: shard %s is missing", indexPath, name)
			}
			return nil, fmt.Errorf("open shard: %w", err)
		}
		f, err := OpenSafetensors(path)
		if err != nil {
			c.Close()
			return nil, err
		}
		i := len(c.files)
		c.files = append(c.files, f)
		for _, t := range f.tensors {
			if idx.WeightMap[t.Name] != name {
				c.Close()
				if other, listed := idx.WeightMap[t.Name]; listed {
					return nil, fmt.Errorf("%s: tensor %q is in shard %s but the index puts it in %s", indexPath, t.Name, name, other)
				}
				return nil, fmt.Errorf("%s: tensor %q of shard %s is not listed in the index", indexPath, t.Name, name)
			}
			c.where[t.Name] = i
			c.names = append(c.names, t.Name)
		}
	}
	for _, tensor := range sortedKeys(idx.WeightMap) {
		if _, ok := c.where[tensor]; !ok {
			c.Close()
			return nil, fmt.Errorf("%s: tensor %q is missing from its shard %s", indexPath, tensor, idx.WeightMap[tensor])
		}
	}
	return c, nil
}

// Dir returns the checkpoint's folder.
func (c *Checkpoint) Dir() string { return c.dir }

// Sharded reports whether the checkpoint has an index file.
func (c *Checkpoint) Sharded() bool { return c.sharded }

// Files returns the safetensors file paths in order.
func (c *Checkpoint) Files() []string {
	out := make([]string, len(c.files))
	for i, f := range c.files {
		out[i] = f.path
	}
	return out
}

// Names returns every tensor name: shard by shard, in file order.
func (c *Checkpoint) Names() []string { return append([]string(nil), c.names...) }

// Info returns the named tensor's description (offsets relative to its
// shard's data section).
func (c *Checkpoint) Info(name string) (TensorInfo, bool) {
	i, ok := c.where[name]
	if !ok {
		return TensorInfo{}, false
	}
	return c.files[i].Info(name)
}

// TotalBytes returns the sum of the tensors' byte sizes.
func (c *Checkpoint) TotalBytes() int64 {
	var n int64
	for _, f := range c.files {
		for _, t := range f.tensors {
			n += t.End - t.Begin
		}
	}
	return n
}

func (c *Checkpoint) file(name string) (*File, error) {
	i, ok := c.where[name]
	if !ok {
		return nil, fmt.Errorf("%s: checkpoint has no tensor %q", c.dir, name)
	}
	return c.files[i], nil
}

// Float32 returns the named tensor converted to float32.
func (c *Checkpoint) Float32(name string) ([]float32, error) {
	f, err := c.file(name)
	if err != nil {
		return nil, err
	}
	return f.Float32(name)
}

// Float32Into converts the named tensor into dst (exactly its element
// count).
func (c *Checkpoint) Float32Into(name string, dst []float32) error {
	f, err := c.file(name)
	if err != nil {
		return err
	}
	return f.Float32Into(name, dst)
}

// Float32Range converts elements [start, start+len(dst)) of the named
// tensor into dst (see File.Float32Range).
func (c *Checkpoint) Float32Range(name string, start int64, dst []float32) error {
	f, err := c.file(name)
	if err != nil {
		return err
	}
	return f.Float32Range(name, start, dst)
}

// Raw returns a copy of the named tensor's stored bytes.
func (c *Checkpoint) Raw(name string) ([]byte, error) {
	f, err := c.file(name)
	if err != nil {
		return nil, err
	}
	return f.Raw(name)
}

// Close closes every shard.
func (c *Checkpoint) Close() error {
	var first error
	for _, f := range c.files {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
