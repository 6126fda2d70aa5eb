package hf

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// MaxParameters bounds the parameter count a config.json may imply, about
// 1.1e12: beyond every open Llama-family model (the largest has 4e11), far
// below what would overflow the sizes of one tensor. A config past it is
// refused by Validate before anything is allocated.
const MaxParameters = 1 << 40

// approxParams is ParameterCount in float64, so that absurd sizes
// (vocab_size 1e12 × hidden_size 1e12) cannot overflow.
func (c *Config) approxParams() float64 {
	h, v, i := float64(c.HiddenSize), float64(c.VocabSize), float64(c.IntermediateSize)
	q := float64(c.NumAttentionHeads) * float64(c.HeadDim)
	kv := float64(c.NumKeyValueHeads) * float64(c.HeadDim)
	layer := h*q + 2*h*kv + q*h + 3*h*i + 2*h + q + 2*kv + 2*i + h
	return 2*v*h + float64(c.NumHiddenLayers)*layer + h
}

// MaxPositions bounds max_position_embeddings (about a billion tokens,
// a hundred times the longest window of any open model): sizes derived
// from the window (score's row bound, evaluation lengths) stay sane.
const MaxPositions = 1 << 30

// checkSize refuses sizes that imply more than MaxParameters parameters,
// and a window over MaxPositions.
func (c *Config) checkSize(name string) error {
	if c.MaxPositionEmbeddings > MaxPositions {
		return fmt.Errorf("%s: max_position_embeddings %d is more than the limit of %d; the config is corrupt", name, c.MaxPositionEmbeddings, MaxPositions)
	}
	if n := c.approxParams(); n > MaxParameters {
		return fmt.Errorf("%s: vocab_size %d, hidden_size %d, intermediate_size %d, num_hidden_layers %d imply %.3g parameters, more than the limit of %.3g; the config is corrupt",
			name, c.VocabSize, c.HiddenSize, c.IntermediateSize, c.NumHiddenLayers, n, float64(MaxParameters))
	}
	return nil
}

// CheckMemory returns an error when the config's parameters at
// bytesPerParam bytes each would not fit in this machine's physical memory
// (Linux: MemTotal of /proc/meminfo; elsewhere, or when it cannot be read,
// only MaxParameters applies). Call it before allocating a model.
func (c *Config) CheckMemory(bytesPerParam int64) error {
	if err := c.checkSize("config"); err != nil {
		return err
	}
	total := memTotal()
	need := float64(c.ParameterCount()) * float64(bytesPerParam)
	if total > 0 && need > float64(total) {
		return fmt.Errorf("config: %d parameters need %s at %d bytes each, more than this machine's %s of memory (vocab_size %d, hidden_size %d, intermediate_size %d, num_hidden_layers %d)",
			c.ParameterCount(), humanBytes(need), bytesPerParam, humanBytes(float64(total)), c.VocabSize, c.HiddenSize, c.IntermediateSize, c.NumHiddenLayers)
	}
	return nil
}

// memTotal returns the physical memory in bytes, 0 when unknown.
func memTotal() int64 { return meminfo("MemTotal:") }

// MemAvailable returns the memory that can be allocated now without
// swapping, in bytes (Linux: MemAvailable of /proc/meminfo), 0 when
// unknown.
func MemAvailable() int64 { return meminfo("MemAvailable:") }

// meminfo returns a /proc/meminfo field in bytes, 0 when unknown.
func meminfo(field string) int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == field {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

func humanBytes(b float64) string {
	switch {
	case b >= 1e12:
		return fmt.Sprintf("%.1f TB", b/1e12)
	case b >= 1e9:
		return fmt.Sprintf("%.1f GB", b/1e9)
	default:
		return fmt.Sprintf("%.1f MB", b/1e6)
	}
}

// CheckWeights compares the sizes of config.json with the tensors of the
// checkpoint, from the headers only: the embedding matrix must be
// [vocab_size, hidden_size], the last layer must be on disk, and the config
// may not imply more parameters than the checkpoint holds. It catches a corrupt or mismatched config
// before a model of its size is allocated; model.Load checks every tensor
// afterwards.
func (c *Config) CheckWeights(ck *Checkpoint) error {
	const embed = "model.embed_tokens.weight"
	if info, ok := ck.Info(embed); ok {
		if len(info.Shape) != 2 || info.Shape[0] != c.VocabSize || info.Shape[1] != c.HiddenSize {
			return fmt.Errorf("%s: config.json has vocab_size %d and hidden_size %d, but %s on disk has shape %v",
				ck.Dir(), c.VocabSize, c.HiddenSize, embed, info.Shape)
		}
	}
	var onDisk int64
	last := fmt.Sprintf("model.layers.%d.", c.NumHiddenLayers-1)
	lastFound := false
	for _, name := range ck.Names() {
		info, _ := ck.Info(name)
		onDisk += info.NumElements()
		lastFound = lastFound || strings.HasPrefix(name, last)
	}
	if !lastFound {
		return fmt.Errorf("%s: config.json has num_hidden_layers %d, but no tensor of model.layers.%d is on disk",
			ck.Dir(), c.NumHiddenLayers, c.NumHiddenLayers-1)
	}
	if want := c.ParameterCount(); want > onDisk {
		return fmt.Errorf("%s: config.json implies %d parameters (intermediate_size %d, num_hidden_layers %d, ...), the weights on disk hold only %d",
			ck.Dir(), want, c.IntermediateSize, c.NumHiddenLayers, onDisk)
	}
	return nil
}
