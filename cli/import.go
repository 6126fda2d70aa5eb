package cli

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/longrecipe/longrecipe/gguf"
	"github.com/longrecipe/longrecipe/hf"
)

func init() {
	register(&command{
		name:    "import",
		summary: "convert a GGUF model (llama.cpp, Ollama; split files too) into a Hugging Face folder",
		run:     runImport,
	})
}

const importUsage = "import --gguf FILE --output DIR [--dtype bf16|f32] [--max-shard-size 5GB] [--force]"

func runImport(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "import", importUsage,
		"Reads a GGUF file (llama, mistral or qwen2 architecture; F32, F16, BF16, Q8_0, Q4_0,\n"+
			"Q4_1, Q5_0, Q5_1, Q4_K, Q5_K or Q6_K tensors; the first part of a split model reads all\n"+
			"parts) and writes a Hugging Face folder: config.json from the metadata, tokenizer.json\n"+
			"and tokenizer_config.json (with the chat template) rebuilt from tokenizer.ggml.*, and\n"+
			"dequantised safetensors. The folder appears complete or not at all.")
	in := fs.String("gguf", "", "the GGUF file (for a split model, any part name NAME-0000i-of-0000N.gguf)")
	out := fs.String("output", "", "the Hugging Face folder to write")
	dtype := fs.String("dtype", "bf16", "stored dtype of the weights: bf16 or f32")
	shard := fs.String("max-shard-size", "5GB", "largest safetensors shard")
	force := fs.Bool("force", false, "replace an existing non-empty output folder")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *in == "" || *out == "" || fs.NArg() > 0 {
		return usageErrorf("want --gguf FILE and --output DIR and no other arguments (usage: longrecipe %s)", importUsage)
	}
	dt := map[string]hf.DType{"bf16": hf.BF16, "f32": hf.F32}[strings.ToLower(*dtype)]
	if dt == "" {
		return usageErrorf("--dtype %q: want bf16 or f32", *dtype)
	}
	maxShard, err := hf.ParseByteSize(*shard)
	if err != nil {
		return usageErrorf("--max-shard-size: %v", err)
	}
	release, err := lockOutput(env, "import", *out)
	if err != nil {
		return err
	}
	defer release()
	res, err := gguf.Import(*in, *out, gguf.ImportOptions{DType: dt, Force: *force, MaxShardBytes: maxShard})
	if err != nil {
		return err
	}
	var types []string
	for t, n := range res.Types {
		types = append(types, fmt.Sprintf("%s ×%d", t, n))
	}
	sort.Strings(types)
	_, err = fmt.Fprintf(env.Stdout, "imported %s (%d file(s)): %s model, %d tensors (%s), %d parameters, %s of %s weights\n",
		*in, res.Parts, res.Arch, res.Tensors, strings.Join(types, ", "), res.Parameters, humanBytes(res.Bytes), dt)
	return err
}
