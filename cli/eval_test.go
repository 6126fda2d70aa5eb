package cli

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/longrecipe/longrecipe/eval"
	"github.com/longrecipe/longrecipe/internal/testfix"
)

func evalCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(append([]string{"eval"}, args...), strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

// evalModel writes a random tiny Llama with the shipped tokenizer.
func evalModel(t *testing.T) string {
	t.Helper()
	l := testfix.Llama{Layers: 2, Heads: 4, KVHeads: 2, Window: 2048, Seed: 1}
	return l.Write(t, filepath.Join(t.TempDir(), "tiny"))
}

func TestEvalEngineEndpointCompare(t *testing.T) {
	dir := evalModel(t)
	root := t.TempDir()
	engOut := filepath.Join(root, "engine")
	stdout, stderr, code := evalCLI(t, "--model", dir, "--tasks", "passkey,vt,ppl", "--lengths", "512,1k",
		"--depths", "0,1", "--samples", "1", "--max-new-tokens", "4", "--haystack", "repeat", "--ppl-sequences", "2", "--parallel", "2", "--output", engOut)
	if code != 0 {
		t.Fatalf("engine eval exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "| passkey |") || !strings.Contains(stdout, "Short-context perplexity (20 windows of 1024 tokens") {
		t.Errorf("stdout:\n%s", stdout)
	}
	res, err := eval.LoadResults(engOut)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Items) != 2*2+2 || res.PPL == nil || res.PPL.Length != 1024 || res.PPL.Sequences != 2 || res.Model != "tiny" || res.Haystack != "noise" {
		t.Errorf("results: %d items, ppl %+v, model %q, haystack %q", len(res.Items), res.PPL, res.Model, res.Haystack)
	}
	for _, f := range []string{"results.md", "heatmap_passkey.png", "heatmap_vt.png", "ppl_by_position.png"} {
		if _, err := os.Stat(filepath.Join(engOut, f)); err != nil {
			t.Error(err)
		}
	}

	// An OpenAI-compatible server that reads the pass key.
	re := regexp.MustCompile(`Secret number: (\d+)\.`) // eval.HeldOutWording.PasskeyNeedle
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Prompt string `json:"prompt"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		m := re.FindStringSubmatch(req.Prompt)
		ans := "no idea"
		if m != nil {
			ans = " " + m[1] + "."
		}
		json.NewEncoder(w).Encode(map[string]any{"choices": []map[string]any{{"text": ans}}})
	}))
	defer srv.Close()
	tokPath := filepath.Join(dir, "tokenizer.json")
	epOut := filepath.Join(root, "endpoint")
	if _, stderr, code := evalCLI(t, "--endpoint", srv.URL+"/v1", "--endpoint-model", "served", "--tokenizer", tokPath,
		"--tasks", "passkey", "--lengths", "512,1k", "--depths", "0,1", "--samples", "1", "--parallel", "2", "--output", epOut); code != 0 {
		t.Fatalf("endpoint eval exit %d: %s", code, stderr)
	}
	res, err = eval.LoadResults(epOut)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range res.Items {
		if it.Score != 1 {
			t.Errorf("endpoint sample %+v scored %v", it, it.Score)
		}
	}

	// Compare, with --output before and after the directories.
	for i, args := range [][]string{
		{"--output", filepath.Join(root, "cmp1"), "--compare", engOut, epOut},
		{"--compare", engOut, epOut, "--output", filepath.Join(root, "cmp2")},
	} {
		if _, stderr, code := evalCLI(t, args...); code != 0 {
			t.Fatalf("compare %d exit %d: %s", i, code, stderr)
		}
		md, err := os.ReadFile(filepath.Join(root, "cmp"+itoaEval(i+1), "compare.md"))
		if err != nil || !strings.Contains(string(md), "| served | 100.0 | 100.0 | 100.0 |") || !strings.Contains(string(md), "| tiny |") {
			t.Errorf("compare.md (%v):\n%s", err, md)
		}
	}
}

func itoaEval(n int) string { return string(rune('0' + n)) }

func TestEvalUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--model", "m", "--lengths", "1k"}, "--output is required"},
		{[]string{"--output", "o", "--lengths", "1k"}, "--model or --endpoint is required"},
		{[]string{"--model", "m", "--output", "o"}, "--lengths is required"},
		{[]string{"--model", "m", "--output", "o", "--lengths", "1q"}, "--lengths"},
		{[]string{"--model", "m", "--output", "o", "--lengths", "1k", "--depths", "1.5"}, "--depths"},
		{[]string{"--model", "m", "--output", "o", "--lengths", "1k", "--tasks", "qa"}, "unknown task"},
		{[]string{"--endpoint", "http://h", "--output", "o", "--lengths", "1k"}, "--endpoint-model"},
		{[]string{"--endpoint", "http://h", "--endpoint-model", "x", "--output", "o", "--lengths", "1k"}, "--tokenizer"},
		{[]string{"--endpoint", "http://h", "--endpoint-model", "x", "--tokenizer", "t", "--tasks", "ppl", "--output", "o", "--lengths", "1k"}, "needs the engine"},
		{[]string{"--model", "m", "--output", "o", "--lengths", "1k", "stray"}, "unexpected arguments"},
		{[]string{"--model", "m", "--output", "o", "--lengths", "1k", "--samples", "0"}, "--samples"},
		{[]string{"--model", "m", "--output", "o", "--lengths", "1k", "--parallel", "-1"}, "--parallel"},
		{[]string{"--model", "m", "--output", "o", "--lengths", "1k", "--wording", "pose"}, "--wording \"pose\""},
		{[]string{"--endpoint", "http://h", "--endpoint-model", "x", "--tokenizer", "t", "--output", "o", "--lengths", "1k", "--endpoint-timeout", "0s"}, "--endpoint-timeout 0s: want > 0"},
		{[]string{"--endpoint", "http://h", "--endpoint-model", "x", "--tokenizer", "t", "--output", "o", "--lengths", "1k", "--endpoint-timeout", "-5s"}, "--endpoint-timeout -5s: want > 0"},
		{[]string{"--endpoint", "http://h", "--endpoint-model", "x", "--tokenizer", "t", "--output", "o", "--lengths", "1k", "--endpoint-retries", "-1"}, "--endpoint-retries"},
	}
	for _, c := range cases {
		_, stderr, code := evalCLI(t, c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("eval %q: exit %d, stderr %q; want 2 and %q", c.args, code, stderr, c.want)
		}
	}
	// A missing model folder is a failure (exit 1) naming it.
	_, stderr, code := evalCLI(t, "--model", "/nonexistent/m", "--output", t.TempDir(), "--lengths", "1k")
	if code != 1 || !strings.Contains(stderr, "/nonexistent/m") {
		t.Errorf("missing model: exit %d, %q", code, stderr)
	}
}

func TestParseLengthsDepths(t *testing.T) {
	ls, err := parseLengths("1k, 4096,32K")
	if err != nil || len(ls) != 3 || ls[0] != 1024 || ls[1] != 4096 || ls[2] != 32768 {
		t.Errorf("parseLengths = %v, %v", ls, err)
	}
	for _, bad := range []string{"", "0", "-1k", "k", "1m", "99999999k"} {
		if _, err := parseLengths(bad); err == nil {
			t.Errorf("parseLengths(%q): no error", bad)
		}
	}
	ds, err := parseDepths("0, 0.5,1")
	if err != nil || len(ds) != 3 || ds[1] != 0.5 {
		t.Errorf("parseDepths = %v, %v", ds, err)
	}
	for _, bad := range []string{"", "x", "-0.1", "1.01", "NaN"} {
		if _, err := parseDepths(bad); err == nil {
			t.Errorf("parseDepths(%q): no error", bad)
		}
	}
}

// TestEvalHaystackNames: the eval command takes the haystack names a
// recipe takes ("noise" and its old name "repeat" give the same prompts,
// as do "" and "heldout") and records one name for each.
func TestEvalHaystackNames(t *testing.T) {
	dir := testfix.Llama{Window: 256}.Write(t, filepath.Join(t.TempDir(), "tiny"))
	results := map[string]*eval.Results{}
	for _, name := range []string{"noise", "repeat", "", "heldout"} {
		out := filepath.Join(t.TempDir(), "r")
		if _, stderr, code := evalCLI(t, "--model", dir, "--tasks", "passkey", "--lengths", "128", "--depths", "0.5",
			"--samples", "1", "--max-new-tokens", "3", "--haystack", name, "--output", out); code != 0 {
			t.Fatalf("--haystack %q: exit %d: %s", name, code, stderr)
		}
		res, err := eval.LoadResults(out)
		if err != nil {
			t.Fatal(err)
		}
		results[name] = res
	}
	for _, pair := range [][2]string{{"noise", "repeat"}, {"", "heldout"}} {
		a, b := results[pair[0]], results[pair[1]]
		if a.Haystack != b.Haystack || a.Items[0].PromptTokens != b.Items[0].PromptTokens || a.Items[0].Output != b.Items[0].Output {
			t.Errorf("--haystack %q and %q differ: %q vs %q", pair[0], pair[1], a.Haystack, b.Haystack)
		}
	}
	if results["noise"].Haystack == results["heldout"].Haystack {
		t.Errorf("noise and heldout haystacks share the name %q", results["noise"].Haystack)
	}
}
