package eval

import (
	"context"
	"testing"
	"time"

	"github.com/longrecipe/longrecipe/hf"
	"github.com/longrecipe/longrecipe/model"
)

// BenchmarkEngine measures the engine on a small Llama (4 layers, width
// 256, vocabulary 4096) with a 1024-token prompt: prefill tokens/s (one
// batched pass), decode tokens/s (32 steps with the KV cache), and, as the
// reference run side by side, decoding without a cache (a fresh prefill
// of the whole prefix for each new token). kv-speedup is the ratio of the two
// decode rates.
func BenchmarkEngine(b *testing.B) {
	cfg := &hf.Config{
		ModelType: "llama", VocabSize: 4096, HiddenSize: 256, IntermediateSize: 688,
		NumHiddenLayers: 4, NumAttentionHeads: 4, NumKeyValueHeads: 4,
		RMSNormEps: 1e-5, RopeTheta: 10000, MaxPositionEmbeddings: 4096,
		HiddenAct: "silu", InitializerRange: 0.02, BOSTokenID: -1, EOSTokenID: -1,
	}
	m, err := model.New(cfg, 1)
	if err != nil {
		b.Fatal(err)
	}
	tok := sotuTok(b)
	g := &Generator{Tok: tok, Seed: 1}
	p, err := g.Generate(Passkey, 1024, 0.5, 0)
	if err != nil {
		b.Fatal(err)
	}
	const steps, refSteps = 32, 4
	var prefill, decode, ref time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c := m.NewCache()
		t0 := time.Now()
		logits, err := m.Prefill(c, p.Tokens, nil)
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		seq := append([]int32{}, p.Tokens...)
		for s := 0; s < steps; s++ {
			id := int32(0)
			for v := range logits {
				if logits[v] > logits[id] {
					id = int32(v)
				}
			}
			seq = append(seq, id)
			if logits, err = m.Decode(c, id, int32(len(seq)-1)); err != nil {
				b.Fatal(err)
			}
		}
		t2 := time.Now()
		for s := 0; s < refSteps; s++ {
			if _, err := m.Prefill(m.NewCache(), seq[:len(p.Tokens)+s+1], nil); err != nil {
				b.Fatal(err)
			}
		}
		t3 := time.Now()
		prefill += t1.Sub(t0)
		decode += t2.Sub(t1)
		ref += t3.Sub(t2)
	}
	n := float64(b.N)
	pre := n * float64(len(p.Tokens)) / prefill.Seconds()
	dec := n * steps / decode.Seconds()
	nocache := n * refSteps / ref.Seconds()
	b.ReportMetric(pre, "prefill-tok/s")
	b.ReportMetric(dec, "decode-tok/s")
	b.ReportMetric(nocache, "nocache-decode-tok/s")
	b.ReportMetric(dec/nocache, "kv-speedup")
}

// BenchmarkRunParallel runs the quickstart's retrieval evaluation (pass
// key and single needle at 128–2048 tokens, three depths, the likelihood
// view) on a model of the shipped base's shape (4 layers, width 256, GQA
// 4/2, vocabulary 4096, θ raised for 2048 positions) one prompt at a time
// and, side by side, two at once on forks of the model (eval.Options.
// Parallel = 2, one thread each): prompts/s of each and their ratio.
func BenchmarkRunParallel(b *testing.B) {
	cfg := &hf.Config{
		ModelType: "llama", VocabSize: 4096, HiddenSize: 256, IntermediateSize: 768,
		NumHiddenLayers: 4, NumAttentionHeads: 4, NumKeyValueHeads: 2,
		RMSNormEps: 1e-5, RopeTheta: 160000, MaxPositionEmbeddings: 2048, TieWordEmbeddings: true,
		HiddenAct: "silu", InitializerRange: 0.02, BOSTokenID: -1, EOSTokenID: -1,
	}
	m, err := model.New(cfg, 1)
	if err != nil {
		b.Fatal(err)
	}
	m.SetPrecision(model.DefaultPrecision())
	tok := sotuTok(b)
	opt := Options{Tasks: []string{Passkey, NIAHSingle}, Lengths: []int{128, 256, 512, 1024, 2048}, Depths: []float64{0, 0.5, 1}, Samples: 1, Seed: 1}
	run := func(parallel int) time.Duration {
		e := &Engine{Model: m, Tok: tok, Fork: func(threads int) TokenModel { return m.Fork(threads) }}
		o := opt
		o.Parallel = parallel
		t0 := time.Now()
		if _, err := Run(context.Background(), e, tok, o); err != nil {
			b.Fatal(err)
		}
		return time.Since(t0)
	}
	var one, two time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		one += run(1)
		two += run(2)
	}
	prompts := float64(b.N * len(opt.Tasks) * len(opt.Lengths) * len(opt.Depths))
	b.ReportMetric(prompts/one.Seconds(), "prompts/s-1")
	b.ReportMetric(prompts/two.Seconds(), "prompts/s-2")
	b.ReportMetric(one.Seconds()/two.Seconds(), "speedup")
}
