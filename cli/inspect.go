package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/longrecipe/longrecipe/hf"
)

func init() {
	register(&command{
		name:    "inspect",
		summary: "describe a model folder: architecture, parameters, dtypes, window, RoPE, shards",
		run:     runInspect,
	})
}

const inspectUsage = "inspect DIR [--json]"

func runInspect(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "inspect", inspectUsage,
		"Reads config.json and the safetensors headers of a Hugging Face model folder (no weights\n"+
			"are loaded) and prints its architecture, parameter count, dtypes, context window, RoPE\n"+
			"settings and shards.")
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) > 1 { // flags after DIR
		if err := parseFlags(fs, rest[1:]); err != nil {
			return err
		}
		rest = append(rest[:1], fs.Args()...)
	}
	if len(rest) != 1 {
		return usageErrorf("want exactly one model folder, got %d arguments (usage: longrecipe %s)", len(rest), inspectUsage)
	}
	s, err := hf.Inspect(rest[0])
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(s)
	} else {
		err = printSummary(env.Stdout, s)
	}
	if err == nil && len(s.Problems) > 0 {
		// The summary is printed; the exit code says the model will not load.
		err = fmt.Errorf("%s: %s", rest[0], strings.Join(s.Problems, "; "))
	}
	return err
}

func printSummary(w io.Writer, s *hf.Summary) error {
	var b strings.Builder
	arch := s.ModelType
	if len(s.Architectures) > 0 {
		arch += " (" + strings.Join(s.Architectures, ", ") + ")"
	}
	fmt.Fprintf(&b, "model        %s\n", s.Dir)
	fmt.Fprintf(&b, "architecture %s\n", arch)
	fmt.Fprintf(&b, "sizes        %d layers, hidden %d, intermediate %d, vocab %d\n", s.Layers, s.Hidden, s.Intermediate, s.Vocab)
	fmt.Fprintf(&b, "attention    %s\n", summaryAttention(s))
	params := fmt.Sprintf("%s (%d)", humanCount(s.Parameters), s.Parameters)
	if s.Parameters != s.ConfigParameters {
		params += fmt.Sprintf("; config.json predicts %d for a Llama-family model", s.ConfigParameters)
	}
	fmt.Fprintf(&b, "parameters   %s\n", params)
	fmt.Fprintf(&b, "embeddings   tied: %v\n", s.TiedEmbedding)
	var dts []string
	for _, d := range s.SortedDTypes() {
		c := s.DTypes[d]
		dts = append(dts, fmt.Sprintf("%s: %d tensors, %s", d, c.Tensors, humanBytes(c.Bytes)))
	}
	if s.TorchDtype != "" {
		dts = append(dts, "config torch_dtype "+s.TorchDtype)
	}
	fmt.Fprintf(&b, "dtypes       %s\n", strings.Join(dts, "; "))
	window := fmt.Sprintf("%d tokens (max_position_embeddings)", s.MaxPositionEmbeddings)
	if s.SlidingWindow > 0 {
		window += fmt.Sprintf(", sliding window %d", s.SlidingWindow)
	}
	fmt.Fprintf(&b, "context      %s\n", window)
	fmt.Fprintf(&b, "rope         %s\n", summaryRope(s))
	fmt.Fprintf(&b, "weights      %d file(s), %s of tensors\n", len(s.Shards), humanBytes(s.TotalBytes))
	for _, sh := range s.Shards {
		fmt.Fprintf(&b, "  %-40s %4d tensors %10s\n", filepath.Base(sh.File), sh.Tensors, humanBytes(sh.Bytes))
	}
	for _, p := range s.Problems {
		fmt.Fprintf(&b, "PROBLEM      %s\n", p)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// summaryAttention describes the attention heads, GQA and biases.
func summaryAttention(s *hf.Summary) string {
	attn := fmt.Sprintf("%d heads × %d dims", s.Heads, s.HeadDim)
	if s.GQAGroup > 1 {
		attn += fmt.Sprintf(", GQA: %d key/value heads (groups of %d)", s.KVHeads, s.GQAGroup)
	} else {
		attn += ", no GQA"
	}
	if s.AttentionBias {
		attn += ", q/k/v biases"
	}
	return attn
}

// summaryRope describes RoPE's base and scaling.
func summaryRope(s *hf.Summary) string {
	rope := fmt.Sprintf("theta %g", s.RopeTheta)
	if r := s.RopeScaling; r != nil {
		rope += fmt.Sprintf(", %s scaling factor %g", r.Type, r.Factor)
		if r.OriginalMaxPositionEmbeddings > 0 {
			rope += fmt.Sprintf(" from %d", r.OriginalMaxPositionEmbeddings)
		}
		switch r.Type {
		case "llama3":
			rope += fmt.Sprintf(" (low_freq_factor %g, high_freq_factor %g)", r.LowFreqFactor, r.HighFreqFactor)
		case "yarn":
			rope += fmt.Sprintf(" (beta_fast %g, beta_slow %g)", r.BetaFast, r.BetaSlow)
		}
	} else {
		rope += ", no scaling"
	}
	return rope
}

func humanCount(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2fB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.2fM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
