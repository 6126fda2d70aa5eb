package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/longrecipe/longrecipe/assets"
	"github.com/longrecipe/longrecipe/tokenizer"
)

// writeAssetTokenizer writes the shipped tokenizer.json to a temp file.
func writeAssetTokenizer(t *testing.T) (string, *tokenizer.Tokenizer) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokenizer.json")
	if err := os.WriteFile(path, assets.TokenizerJSON(), 0o644); err != nil {
		t.Fatal(err)
	}
	tk, err := tokenizer.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, tk
}

func parseIDLines(t *testing.T, out string) [][]int32 {
	t.Helper()
	var rows [][]int32
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var row struct {
			InputIDs []int32 `json:"input_ids"`
		}
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatalf("output line %q: %v", line, err)
		}
		rows = append(rows, row.InputIDs)
	}
	return rows
}

func TestTokenizeJSONL(t *testing.T) {
	tokPath, tk := writeAssetTokenizer(t)
	texts := []string{"Hello world.", "", "Line one\nline two\r\n  spaced  ", "<|bos|>special<|eos|>", strings.Repeat("Mr. Speaker, ", 500)}
	var in strings.Builder
	for i, s := range texts {
		b, _ := json.Marshal(map[string]any{"body": s, "n": i})
		in.Write(b)
		in.WriteString("\n\n") // blank lines are skipped
	}
	for _, special := range []bool{false, true} {
		args := []string{"tokenize", "--tokenizer", tokPath, "--text-field", "body"}
		if special {
			args = append(args, "--add-special-tokens")
		}
		out, stderr, code := runCLI(t, in.String(), args...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		rows := parseIDLines(t, out)
		if len(rows) != len(texts) {
			t.Fatalf("%d output rows for %d documents", len(rows), len(texts))
		}
		for i, s := range texts {
			if want := tk.Encode(s, special); !slices.Equal(rows[i], want) && !(len(want) == 0 && len(rows[i]) == 0) {
				t.Errorf("row %d: got %v, want %v", i, rows[i], want)
			}
		}
		if !strings.Contains(stderr, "tokenize: 5 documents") {
			t.Errorf("summary missing: %q", stderr)
		}
	}
}

func TestTokenizeFilesAndText(t *testing.T) {
	tokPath, tk := writeAssetTokenizer(t)
	dir := t.TempDir()
	doc := "First paragraph.\n\nSecond paragraph, same document.\n"
	inPath := filepath.Join(dir, "doc.txt")
	if err := os.WriteFile(inPath, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	outPath := filepath.Join(dir, "ids.jsonl")
	if _, stderr, code := runCLI(t, "", "tokenize", "--tokenizer", tokPath, "--format", "text", "--input", inPath, "--output", outPath); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	data, err := os.ReadFile(outPath)
	if err != nil {
		t.Fatal(err)
	}
	rows := parseIDLines(t, string(data))
	if len(rows) != 1 || !slices.Equal(rows[0], tk.Encode(doc, false)) {
		t.Errorf("text format: got %v", rows)
	}
}

func TestTokenizeErrors(t *testing.T) {
	tokPath, _ := writeAssetTokenizer(t)
	cases := []struct {
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"", []string{"tokenize"}, 2, "--tokenizer is required"},
		{"", []string{"tokenize", "--tokenizer", tokPath, "--format", "csv"}, 2, "want jsonl or text"},
		{"{\"text\": \"a\"}\n{\"text\": 5}\n", []string{"tokenize", "--tokenizer", tokPath}, 1, "stdin line 2: field \"text\" is not a string"},
		{"{\"text\": \"a\"}\n\n[1]\n", []string{"tokenize", "--tokenizer", tokPath}, 1, "stdin line 3: not a JSON object"},
		{"{\"txt\": \"a\"}\n", []string{"tokenize", "--tokenizer", tokPath}, 1, "stdin line 1: no field \"text\""},
		{"", []string{"tokenize", "--tokenizer", filepath.Join(t.TempDir(), "none.json")}, 1, "none.json"},
	}
	for _, c := range cases {
		_, stderr, code := runCLI(t, c.stdin, c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", c.args, code, stderr, c.code, c.want)
		}
	}
}
