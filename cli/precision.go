package cli

import (
	"flag"

	"github.com/longrecipe/longrecipe/model"
)

// precisionUsage is the --precision flag's help.
const precisionUsage = "matrix multiplies: bf16 (bfloat16 operands, float32 accumulation; weights, optimizer, norms, softmax and loss stay float32), fp32, or auto (bf16 where the CPU has AVX512_BF16 or AMX, else fp32)"

// precisionFlag adds --precision, the arithmetic of the model's matrix
// multiplies, to fs (train, score, generate, eval).
func precisionFlag(fs *flag.FlagSet) *string {
	return fs.String("precision", "auto", precisionUsage)
}

// parsePrecision reads a --precision value.
func parsePrecision(s string) (model.Precision, error) {
	p, err := model.ParsePrecision(s)
	if err != nil {
		return model.FP32, usageErrorf("--%v", err)
	}
	return p, nil
}
