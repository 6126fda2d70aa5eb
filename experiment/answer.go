package experiment

import (
	"fmt"
	"math"
	"slices"

	"github.com/longrecipe/longrecipe/eval"
)

// AnswerNLLFile is written next to each model's evaluation report.
const AnswerNLLFile = "answer_nll.json"

// answerNLL is the mean negative log-likelihood (nats per token) of the
// gold answer of each retrieval prompt, by task and length: the prompt
// followed by " " + answer, teacher-forced. It is a continuous companion of
// the string-match accuracy on exactly the prompts the accuracy uses, so it
// shows how far a model is from retrieving the needle even where greedy
// decoding scores 0 everywhere. Lower is better. The evaluation's
// likelihood view already scored that continuation (eval.Partial.GoldLL,
// with the prompt's key/value cache), so no pass is repeated here.
func answerNLL(res *eval.Results, tok eval.Tokenizer) ([]Accuracy, error) {
	type key struct {
		task   string
		length int
	}
	sum, n := map[key]float64{}, map[key]int{}
	for _, it := range res.Items {
		if !slices.Contains(evalTasks, it.Task) {
			continue
		}
		if it.Partial == nil || len(it.Expected) != 1 {
			return nil, fmt.Errorf("%s at %d, sample %d: no gold-answer likelihood (want one answer and the likelihood view)", it.Task, it.Length, it.Index)
		}
		k := key{it.Task, it.Length}
		sum[k] -= it.Partial.GoldLL / float64(len(tok.Encode(" "+it.Expected[0], false)))
		n[k]++
	}
	var out []Accuracy
	for _, task := range evalTasks {
		for _, l := range res.Lengths {
			k := key{task, l}
			if n[k] == 0 {
				return nil, fmt.Errorf("%s at %d: no samples", task, l)
			}
			v := sum[k] / float64(n[k])
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("%s at %d: answer log-likelihood %v", task, l, v)
			}
			out = append(out, Accuracy{Task: task, Length: l, Score: v})
		}
	}
	return out, nil
}
