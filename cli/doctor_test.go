package cli

import (
	"strings"
	"testing"
)

func TestDoctorLines(t *testing.T) {
	s := func(v string) *string { return &v }
	tests := []struct {
		name  string
		r     doctorReport
		lines []string
		err   string
	}{
		{"gpu box", doctorReport{Torch: s("2.15.0"), Transformer: s("5.23.0"), Accelerate: s("1.15.0"), FlashAttn: s("2.8.3"),
			CUDA: true, CUDAVersion: s("13.2"), Devices: 2, DeviceNames: []string{"H200", "H200"}},
			[]string{"torch:         2.15.0, CUDA 13.2: 2 device(s) H200, H200", "flash-attn:    2.8.3", "deepspeed:     not installed — not needed"}, ""},
		{"cpu box", doctorReport{Torch: s("2.15.0"), Transformer: s("5.23.0")},
			[]string{"CUDA: no (CPU only", "flash-attn:    not installed — optional, GPU only: pip install flash-attn", "accelerate:    not installed"}, ""},
		{"no torch", doctorReport{Transformer: s("5.23.0")},
			[]string{"torch:         not installed — run: bash scripts/pyenv.sh"}, "torch missing"},
		{"broken torch", doctorReport{Torch: s("2.15.0"), Transformer: s("5.23.0"), TorchError: "libcudart.so: cannot open"},
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
