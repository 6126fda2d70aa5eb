package eval

import (
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
