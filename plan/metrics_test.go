package plan

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestThroughputFromMetrics(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(text), 0o644)
		return p
	}
	// Step 1 (warm-up) is left out; steps 2 and 3: 3000 tokens in 1 s + 2 s.
	p := write("m.jsonl", `{"step":1,"loss":9,"tokens":1000,"tokens_per_s":10,"elapsed_s":100}
{"step":2,"loss":8,"tokens":1000,"tokens_per_s":1000,"elapsed_s":101}
{"step":3,"loss":7,"tokens":2000,"tokens_per_s":1000,"elapsed_s":103}
`)
	tps, n, err := ThroughputFromMetrics(p)
	if err != nil || n != 2 || math.Abs(tps-1000) > 1e-9 {
		t.Errorf("%g tokens/s over %d steps, %v; want 1000 over 2", tps, n, err)
	}
	one := write("one.jsonl", `{"step":1,"tokens":500,"tokens_per_s":250}`+"\n")
	if tps, n, err := ThroughputFromMetrics(one); err != nil || n != 1 || tps != 250 {
		t.Errorf("one step: %g, %d, %v", tps, n, err)
	}
	for _, tc := range []struct{ text, want string }{
		{"", "no steps"},
		{"{\"step\":1,\"tokens\":5}\n", "m2.jsonl:1: step 1 has tokens 5, tokens_per_s 0"},
		{"{\"step\":1,\"tokens\":5,\"tokens_per_s\":1}\nnot json\n", "m2.jsonl:2:"},
	} {
		_, _, err := ThroughputFromMetrics(write("m2.jsonl", tc.text))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.text, err, tc.want)
		}
	}
}
