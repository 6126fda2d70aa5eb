package paths

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tree makes root/in/model.safetensors, root/link -> in, root/out-link ->
// root/elsewhere (not yet existing) and returns root.
func tree(t *testing.T) string {
	t.Helper()
	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "in"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "in", "model.safetensors"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "in"), filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestResolve(t *testing.T) {
	root := tree(t)
	tests := []struct{ path, want string }{
		{filepath.Join(root, "link"), filepath.Join(root, "in")},
		{filepath.Join(root, "link", "model.safetensors"), filepath.Join(root, "in", "model.safetensors")},
		{filepath.Join(root, "link", "new", "deeper"), filepath.Join(root, "in", "new", "deeper")},
		{filepath.Join(root, "in", "..", "link"), filepath.Join(root, "in")},
		{filepath.Join(root, "nothing"), filepath.Join(root, "nothing")},
	}
	for _, tc := range tests {
		got, err := Resolve(tc.path)
		if err != nil || got != tc.want {
			t.Errorf("Resolve(%s) = %s, %v; want %s", tc.path, got, err, tc.want)
		}
	}
}

func TestCheckOutput(t *testing.T) {
	root := tree(t)
	in := filepath.Join(root, "in")
	tests := []struct {
		name, out string
		inputs    []string
		want      string // "" = allowed
	}{
		{"symlink to the input", filepath.Join(root, "link"), []string{in}, "is the input"},
		{"input through a symlink", in, []string{filepath.Join(root, "link")}, "is the input"},
		{"same spelled differently", filepath.Join(root, "in", "."), []string{in}, "is the input"},
		{"inside the input folder", filepath.Join(root, "link", "sub"), []string{in}, ""},
		{"contains the input", root, []string{in}, "contains the input"},
		{"input file in output", filepath.Join(root, "in"), []string{filepath.Join(root, "link", "model.safetensors")}, "contains the input"},
		{"sibling", filepath.Join(root, "out"), []string{in}, ""},
		{"prefix but not inside", filepath.Join(root, "in2"), []string{in}, ""},
		{"stdin skipped", filepath.Join(root, "out"), []string{"-", ""}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckOutput("test", tc.out, tc.inputs...)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestCheckReplace(t *testing.T) {
	root := tree(t)
	empty := filepath.Join(root, "empty")
	os.Mkdir(empty, 0o755)
	file := filepath.Join(root, "in", "model.safetensors")
	tests := []struct {
		out   string
		force bool
		want  string
	}{
		{filepath.Join(root, "missing"), false, ""},
		{empty, false, ""},
		{filepath.Join(root, "in"), false, "not empty (use --force"},
		{filepath.Join(root, "in"), true, ""},
		{file, false, "already exists (use --force"},
		{file, true, ""},
	}
	for _, tc := range tests {
		err := CheckReplace("test", tc.out, tc.force)
		if (tc.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CheckReplace(%s, %v) = %v, want %q", tc.out, tc.force, err, tc.want)
		}
	}
}
