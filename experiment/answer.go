package experiment

import (
	"context"
	"fmt"
	"math"

	"github.com/longrecipe/longrecipe/eval"
)

// AnswerNLLFile is written next to each model's evaluation report.
const AnswerNLLFile = "answer_nll.json"

// answerNLL is the mean negative log-likelihood (nats per token) of the
// gold answer of each retrieval prompt, scored by teacher forcing: the
// prompt followed by " " + answer. It is a continuous companion of the
// string-match accuracy, computed on exactly the prompts the accuracy uses
// (same generator, seed, lengths, depths and samples), so it shows how far
// a model is from retrieving the needle even where greedy decoding scores
// 0 everywhere. Lower is better.
func answerNLL(ctx context.Context, s eval.Scorer, tok eval.Tokenizer, hay *eval.Haystack, seed uint64, lengths []int, depths []float64, samples int) ([]Accuracy, error) {
	gen := &eval.Generator{Tok: tok, Haystack: hay, Seed: seed}
	var out []Accuracy
	for _, task := range evalTasks {
		for _, l := range lengths {
			var sum float64
			var n int
			for _, d := range depths {
				for i := 0; i < samples; i++ {
					if err := ctx.Err(); err != nil {
						return nil, err
					}
					p, err := gen.Generate(task, l, d, i)
					if err != nil {
						return nil, err
					}
					if len(p.Answers) != 1 {
						return nil, fmt.Errorf("%s at %d: %d answers, want 1", task, l, len(p.Answers))
					}
					ans := tok.Encode(" "+p.Answers[0], false)
					seq := append(append([]int32{}, p.Tokens...), ans...)
					lp, err := s.LogProbs(seq, nil)
					if err != nil {
						return nil, fmt.Errorf("%s at %d: %w", task, l, err)
					}
					var nll float64
					for _, v := range lp[len(p.Tokens)-1:] {
						nll -= float64(v)
					}
					sum += nll / float64(len(ans))
					n++
				}
			}
			v := sum / float64(n)
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("%s at %d: answer log-likelihood %v", task, l, v)
			}
			out = append(out, Accuracy{Task: task, Length: l, Score: v})
		}
	}
	return out, nil
}
