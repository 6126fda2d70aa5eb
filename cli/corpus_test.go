package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCorpusCommand(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "--output is required"},
		{[]string{"--output", "o", "--join-words", "-1"}, "--join-words must be >= 0"},
		{[]string{"--output", "o", "x"}, "unexpected arguments"},
	} {
		if _, stderr, code := runCLI(t, "", append([]string{"corpus"}, c.args...)...); code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("corpus %q: exit %d, stderr %q; want 2 and %q", c.args, code, stderr, c.want)
		}
	}
	dir := t.TempDir()
	stdout, stderr, code := runCLI(t, "", "corpus", "--output", dir, "--join-words", "25000")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want := []string{filepath.Join(dir, "train.jsonl"), filepath.Join(dir, "heldout.jsonl"), filepath.Join(dir, "replay.jsonl")}
	if got := strings.Fields(stdout); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("stdout %q, want the three paths %q", stdout, want)
	}
	if _, stderr, code := runCLI(t, "", "corpus", "--output", dir); code != 1 || !strings.Contains(stderr, "--force") {
		t.Errorf("a second run into the same folder: exit %d, stderr %q; want 1 and a mention of --force", code, stderr)
	}
	b, err := os.ReadFile(want[0])
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if n := len(strings.Fields(l)); n < 25000 {
			t.Errorf("train.jsonl line %d: %d words, want >= 25000", i+1, n)
		}
	}
}
