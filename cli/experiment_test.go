package cli

import (
	"bytes"
	"strings"
	"testing"
)

// TestExperimentUsage checks that command-line mistakes exit with 2 and
// name the problem before any work starts.
func TestExperimentUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"experiment"}, "--output is required"},
		{[]string{"experiment", "--base", "b"}, "--output is required"},
		{[]string{"experiment", "--output", "o", "--precision", "fp16"}, "precision \"fp16\""},
		{[]string{"experiment", "--base", "b", "--output", "o", "--factor", "1"}, "--factor 1"},
		{[]string{"experiment", "--base", "b", "--output", "o", "--tokens", "-5"}, "must be >= 0"},
		{[]string{"experiment", "--base", "b", "--output", "o", "--lr", "0"}, "--lr and --anneal-lr must be > 0"},
		{[]string{"experiment", "--base", "b", "--output", "o", "extra"}, "unexpected arguments"},
		{[]string{"experiment", "--nope"}, "flag provided but not defined"},
	} {
		var out, errb bytes.Buffer
		if code := Main(tc.args, strings.NewReader(""), &out, &errb); code != 2 || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want 2 and %q", tc.args, code, errb.String(), tc.want)
		}
	}
	// A missing base model folder is a failure (1) that names it.
	var out, errb bytes.Buffer
	dir := t.TempDir()
	if code := Main([]string{"experiment", "--base", dir + "/missing", "--output", dir + "/out"}, strings.NewReader(""), &out, &errb); code != 1 || !strings.Contains(errb.String(), "missing") {
		t.Errorf("missing base: exit %d, stderr %q", code, errb.String())
	}
}

func TestShellJoin(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--base", "/a/b", "--quick"}, "--base /a/b --quick"},
		{[]string{"--output", "my dir"}, "--output 'my dir'"},
		{[]string{"it's"}, `'it'\''s'`},
		{[]string{""}, "''"},
	} {
		if got := shellJoin(tc.args); got != tc.want {
			t.Errorf("shellJoin(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
}
