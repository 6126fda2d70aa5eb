package cli

import (
	"strings"
	"testing"

	"github.com/longrecipe/longrecipe/torchlaunch"
)

func TestDoctorLines(t *testing.T) {
	v := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name  string
		r     torchlaunch.Env
		lines []string
		err   string
	}{
		{"gpu box", torchlaunch.Env{Versions: v("torch", "2.15.0", "transformers", "5.23.0", "accelerate", "1.15.0", "flash-attn", "2.8.3"),
			CUDA: true, CUDAVersion: "13.2", CUDADevices: 2, DeviceNames: []string{"H200", "H200"}},
			[]string{"torch:         2.15.0, CUDA 13.2: 2 device(s) H200, H200", "flash-attn:    2.8.3", "deepspeed:     not installed — not needed"}, ""},
		{"cpu box", torchlaunch.Env{Versions: v("torch", "2.15.0", "transformers", "5.23.0")},
			[]string{"CUDA: no (CPU only", "flash-attn:    not installed — optional, GPU only: pip install flash-attn", "accelerate:    not installed"}, ""},
		{"no torch", torchlaunch.Env{Versions: v("transformers", "5.23.0"), TorchError: "No module named 'torch'"},
			[]string{"torch:         not installed — run: bash scripts/pyenv.sh"}, "torch missing"},
		{"broken torch", torchlaunch.Env{Versions: v("torch", "2.15.0", "transformers", "5.23.0"), TorchError: "libcudart.so: cannot open"},
			[]string{"import torch fails: libcudart.so"}, "torch (broken) missing"},
	}
	for _, tc := range tests {
		var b strings.Builder
		err := doctorLines(&b, &tc.r)
		if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.err)
		}
		for _, l := range tc.lines {
			if !strings.Contains(b.String(), l) {
				t.Errorf("%s: output lacks %q:\n%s", tc.name, l, b.String())
			}
		}
		if n := strings.Count(b.String(), "\n"); n != 6 {
			t.Errorf("%s: %d lines, want one per package (6)", tc.name, n)
		}
	}
}
