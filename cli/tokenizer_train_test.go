package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/longrecipe/longrecipe/tokenizer"
)

// bpeRunCLI runs the command line and returns exit code, stdout, stderr.
func bpeRunCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Main(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestTokenizerTrainCLI(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "corpus.jsonl")
	var b strings.Builder
	for i := range 40 {
		b.WriteString(`{"text": "The year ` + strconv.Itoa(1900+i) + ` was a good year for the nation's farmers and its 12 states."}` + "\n")
	}
	if err := os.WriteFile(in, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "tok.json")
	code, stdout, stderr := bpeRunCLI("tokenizer", "train", "--input", in, "--vocab", "300", "--special", "<s>,</s>", "--bos", "<s>", "--output", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "300 tokens (42 merges, 2 special)") {
		t.Errorf("stdout %q", stdout)
	}
	tok, err := tokenizer.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	text := "The year 1907 was good for the nation's farmers."
	ids := tok.Encode(text, true)
	if ids[0] != 298 {
		t.Errorf("first id %d, want BOS 298", ids[0])
	}
	if got := tok.Decode(ids, true); got != text {
		t.Errorf("round trip %q", got)
	}

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"tokenizer"}, 2, "missing subcommand"},
		{[]string{"tokenizer", "fit"}, 2, "unknown subcommand"},
		{[]string{"tokenizer", "train", "--input", in}, 2, "--output is required"},
		{[]string{"tokenizer", "train", "--input", in, "--vocab", "100", "--output", out}, 1, "below 259"},
		{[]string{"tokenizer", "train", "--input", in, "--vocab", "5000", "--output", out}, 1, "unreachable"},
		{[]string{"tokenizer", "train", "--input", in, "--vocab", "2000000", "--output", out, "--force"}, 2, "--vocab 2000000: want at most 1048576"},
		{[]string{"tokenizer", "train", "--input", in, "--vocab", "1000000000", "--output", out, "--force"}, 2, "--vocab 1000000000: want at most"},
		{[]string{"tokenizer", "train", "--input", filepath.Join(dir, "missing.txt"), "--output", out}, 1, "missing.txt"},
		{[]string{"tokenizer", "train", "--bos", "<x>", "--input", in, "--output", out}, 1, "not one of the special"},
		{[]string{"tokenizer", "train", "--input", in, "--output", out}, 1, "already exists (use --force"},
		{[]string{"tokenizer", "train", "--input", in, "--output", in, "--force"}, 1, "is the input"},
	} {
		if tc.code == 1 && !strings.Contains(tc.want, "--force") && !strings.Contains(tc.want, "input") {
			tc.args = append(tc.args, "--force") // out exists from the run above
		}
		code, _, stderr := bpeRunCLI(tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
}
