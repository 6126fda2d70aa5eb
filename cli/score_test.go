package cli

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/longrecipe/longrecipe/model"
	"github.com/longrecipe/longrecipe/tokenizer"
)

const tinyModelConfig = `{
  "model_type": "llama", "vocab_size": %d, "hidden_size": 32, "intermediate_size": 48,
  "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
  "rms_norm_eps": 1e-5, "rope_theta": 10000, "max_position_embeddings": 256,
  "hidden_act": "silu", "initializer_range": 0.5, "tie_word_embeddings": false,
  "bos_token_id": 1, "eos_token_id": 2
}`

func runCLI(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

// initTiny writes a random tiny model with vocabulary V with "init".
func initTiny(t *testing.T, V int, dtype string) string {
	t.Helper()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config-in.json")
	if err := os.WriteFile(cfgPath, []byte(strings.Replace(tinyModelConfig, "%d", itoa(V), 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "model")
	if _, stderr, code := runCLI(t, "", "init", "--config", cfgPath, "--output", out, "--seed", "3", "--dtype", dtype); code != 0 {
		t.Fatalf("init exit %d: %s", code, stderr)
	}
	return out
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestInitScore(t *testing.T) {
	dir := initTiny(t, 50, "f32")
	m, err := model.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	m.SetPrecision(model.DefaultPrecision()) // score's default --precision auto
	in := filepath.Join(t.TempDir(), "in.jsonl")
	rows := `{"input_ids": [1, 5, 7, 9, 11]}
{"input_ids": [3, 4, 5], "position_ids": [0, 10, 20], "text": "ignored"}

{"input_ids": [8]}
`
	os.WriteFile(in, []byte(rows), 0o644)
	outPath := filepath.Join(t.TempDir(), "out.jsonl")
	if _, stderr, code := runCLI(t, "", "score", "--model", dir, "--input", in, "--output", outPath); code != 0 {
		t.Fatalf("score exit %d: %s", code, stderr)
	}
	data, _ := os.ReadFile(outPath)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d output rows, want 3:\n%s", len(lines), data)
	}
	wantRows := []struct{ ids, pos []int32 }{{[]int32{1, 5, 7, 9, 11}, nil}, {[]int32{3, 4, 5}, []int32{0, 10, 20}}, {[]int32{8}, nil}}
	for i, line := range lines {
		var got struct{ LogProbs []float32 }
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatal(err)
		}
		want, _ := m.LogProbs(wantRows[i].ids, wantRows[i].pos)
		if len(got.LogProbs) != len(wantRows[i].ids)-1 {
			t.Fatalf("row %d: %d logprobs", i, len(got.LogProbs))
		}
		for j := range want {
			if math.Abs(float64(got.LogProbs[j]-want[j])) > 1e-6 {
				t.Fatalf("row %d: %v, want %v", i, got.LogProbs, want)
			}
		}
	}
	// Errors name the line.
	bad := []struct{ rows, want string }{
		{"{\"input_ids\": [1, 2]}\n{\"input_ids\": [1, 99]}\n", "line 2"},
		{"{\"input_ids\": [1, 2], \"position_ids\": [0]}\n", "line 1"},
		{"\n{\"input_ids\": []}\n", "line 2"},
		{"{\"input_ids\": [1, 2]\n", "line 1"},
	}
	for _, b := range bad {
		os.WriteFile(in, []byte(b.rows), 0o644)
		_, stderr, code := runCLI(t, "", "score", "--model", dir, "--input", in, "--output", outPath, "--force")
		if code != 1 || !strings.Contains(stderr, b.want) || !strings.Contains(stderr, "in.jsonl "+b.want) {
			t.Errorf("rows %q: exit %d, stderr %q (want %q)", b.rows, code, stderr, b.want)
		}
	}
	if _, _, code := runCLI(t, "", "score", "--model", dir); code != 2 {
		t.Errorf("missing flags: exit %d, want 2", code)
	}
	if _, _, code := runCLI(t, "", "init", "--config", "x", "--output", "y", "--dtype", "int8"); code != 2 {
		t.Errorf("bad dtype: exit %d, want 2", code)
	}
}

func TestGenerateCLI(t *testing.T) {
	tokPath := filepath.Join("..", "assets", "tokenizer.json")
	tok, err := tokenizer.Load(tokPath)
	if err != nil {
		t.Fatal(err)
	}
	dir := initTiny(t, tok.VocabSize(), "bf16")
	stdout, stderr, code := runCLI(t, "", "generate", "--model", dir, "--tokenizer", tokPath, "--prompt", "The state of the union", "--max-new-tokens", "5")
	if code != 0 {
		t.Fatalf("generate exit %d: %s", code, stderr)
	}
	m, err := model.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	eos, _ := tok.EOS()
	ids, err := m.Generate(tok.Encode("The state of the union", true), 5, func(id int32) bool { return id == eos || id == 2 })
	if err != nil {
		t.Fatal(err)
	}
	if want := tok.Decode(ids, true) + "\n"; stdout != want {
		t.Fatalf("generate printed %q, want %q", stdout, want)
	}
}

// TestScoreRefuses covers the hostile inputs of issue 11: a row far longer
// than the model can hold (F1), a FIFO as input (F5), an output that is a
// link to the input (F4), an existing output without --force, and input
// errors labelled with the input file, not the output.
func TestScoreRefuses(t *testing.T) {
	dir := initTiny(t, 50, "f32")
	tmp := t.TempDir()
	in := filepath.Join(tmp, "in.jsonl")
	var huge strings.Builder
	huge.WriteString(`{"input_ids": [1]}` + "\n" + `{"input_ids": [1`)
	for range 200000 {
		huge.WriteString(", 7")
	}
	huge.WriteString("]}\n")
	os.WriteFile(in, []byte(huge.String()), 0o644)
	out := filepath.Join(tmp, "out.jsonl")
	_, stderr, code := runCLI(t, "", "score", "--model", dir, "--input", in, "--output", out, "--max-tokens", "1000")
	if code != 1 || !strings.Contains(stderr, "in.jsonl line 2: 600018 bytes, over the limit") || !strings.Contains(stderr, "--max-tokens 1000") {
		t.Errorf("huge row: exit %d, %s", code, stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a failed score left an output file")
	}
	// Within the byte bound but over the token bound (no position_ids).
	os.WriteFile(in, []byte(`{"input_ids": [1,1,1,1,1,1,1,1,1,1,1]}`+"\n"), 0o644)
	if _, stderr, code := runCLI(t, "", "score", "--model", dir, "--input", in, "--output", out, "--max-tokens", "10"); code != 1 || !strings.Contains(stderr, "in.jsonl line 1: 11 tokens, over --max-tokens 10") {
		t.Errorf("long row: exit %d, %s", code, stderr)
	}

	os.WriteFile(in, []byte(`{"input_ids": [1, 2]}`+"\n"), 0o644)
	link := filepath.Join(tmp, "link.jsonl")
	os.Symlink(in, link)
	if _, stderr, code := runCLI(t, "", "score", "--model", dir, "--input", in, "--output", link, "--force"); code != 1 || !strings.Contains(stderr, "is the input") {
		t.Errorf("output linked to the input: exit %d, %s", code, stderr)
	}
	if b, _ := os.ReadFile(in); string(b) != `{"input_ids": [1, 2]}`+"\n" {
		t.Errorf("input changed: %q", b)
	}
	os.WriteFile(out, []byte("old"), 0o644)
	if _, stderr, code := runCLI(t, "", "score", "--model", dir, "--input", in, "--output", out); code != 1 || !strings.Contains(stderr, "use --force") {
		t.Errorf("existing output: exit %d, %s", code, stderr)
	}
	if _, stderr, code := runCLI(t, "", "score", "--model", dir, "--input", in, "--output", out, "--force"); code != 0 {
		t.Errorf("--force: exit %d, %s", code, stderr)
	}
	os.WriteFile(in, []byte("not json\n"), 0o644)
	_, stderr, _ = runCLI(t, "", "score", "--model", dir, "--input", in, "--output", out, "--force")
	if !strings.Contains(stderr, "in.jsonl line 1") || strings.Contains(stderr, "write "+out) {
		t.Errorf("input error labelled %q", stderr)
	}
}
