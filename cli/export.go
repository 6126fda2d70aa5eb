package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/longrecipe/longrecipe/gguf"
)

func init() {
	register(&command{
		name:    "export",
		summary: "write a model folder as a GGUF file for llama.cpp, Ollama, LM Studio (f32 … q4_k)",
		run:     runExport,
	})
}

const exportUsage = "export --gguf OUT.gguf --model DIR [--type f32|f16|bf16|q8_0|q4_k|q6_k] [--force]"

// exportTypes are the --type values.
var exportTypes = map[string]gguf.GGMLType{
	"f32": gguf.F32, "f16": gguf.F16, "bf16": gguf.BF16, "q8_0": gguf.Q8_0, "q4_k": gguf.Q4_K, "q6_k": gguf.Q6_K,
}

func runExport(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "export", exportUsage,
		"Writes a Hugging Face model folder (llama, mistral or qwen2) as one GGUF v3 file with the\n"+
			"metadata llama.cpp needs: context_length = max_position_embeddings (the extended window),\n"+
			"rope.freq_base = rope_theta, linear/YaRN scaling keys or llama3's rope_freqs tensor, and the\n"+
			"tokenizer (vocabulary, merges, special tokens, chat template). Query/key rows are permuted as\n"+
			"llama.cpp expects. Norms and biases stay F32; with q4_k the output matrix is Q6_K; matrices\n"+
			"whose rows do not fill the type's blocks fall back to Q8_0 or F16. The file appears complete\n"+
			"or not at all, after a check of the free disk space.")
	out := fs.String("gguf", "", "the GGUF file to write")
	model := fs.String("model", "", "the Hugging Face model folder to read")
	typ := fs.String("type", "f32", "type of the weight matrices: f32, f16, bf16, q8_0, q4_k or q6_k")
	force := fs.Bool("force", false, "replace an existing output file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" || *model == "" || fs.NArg() > 0 {
		return usageErrorf("want --gguf OUT.gguf and --model DIR and no other arguments (usage: longrecipe %s)", exportUsage)
	}
	t, ok := exportTypes[strings.ToLower(*typ)]
	if !ok {
		return usageErrorf("--type %q: want f32, f16, bf16, q8_0, q4_k or q6_k", *typ)
	}
	if *out == "-" {
		return usageErrorf("--gguf -: the GGUF file must be a path (it is written atomically)")
	}
	inputs := []string{*model}
	for _, pat := range []string{"*.safetensors", "*.json"} {
		m, _ := filepath.Glob(filepath.Join(*model, pat))
		inputs = append(inputs, m...)
	}
	if err := checkWrite("export", *out, *force, inputs...); err != nil {
		return err
	}
	res, err := gguf.Export(*model, *out, gguf.ExportOptions{Type: t})
	if err != nil {
		return err
	}
	var types []string
	for name, n := range res.Types {
		types = append(types, fmt.Sprintf("%s ×%d", name, n))
	}
	sort.Strings(types)
	_, err = fmt.Fprintf(env.Stdout, "exported %s to %s: %s architecture, %d tensors (%s), %s\n",
		*model, *out, res.Arch, res.Tensors, strings.Join(types, ", "), humanBytes(res.Bytes))
	return err
}
