package hf

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"testing"
)

// TestConversionsMatchTorch compares float32 → bf16/f16 rounding with the
// bit patterns PyTorch produced (scripts/hf_dtype_fixture.py).
func TestConversionsMatchTorch(t *testing.T) {
	data, err := os.ReadFile("testdata/torch_dtype_bits.json")
	if err != nil {
		t.Fatal(err)
	}
	var fx struct {
		Rows [][3]string `json:"rows"`
	}
	if err := json.Unmarshal(data, &fx); err != nil {
		t.Fatal(err)
	}
	if len(fx.Rows) < 2000 {
		t.Fatalf("fixture has only %d rows", len(fx.Rows))
	}
	hex := func(s string) uint64 {
		v, err := strconv.ParseUint(s, 16, 32)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	bad := 0
	for _, r := range fx.Rows {
		f := math.Float32frombits(uint32(hex(r[0])))
		wantBF, wantF16 := uint16(hex(r[1])), uint16(hex(r[2]))
		if got := BF16FromFloat32(f); got != wantBF {
			t.Errorf("BF16FromFloat32(%s = %g) = %04x, torch %04x", r[0], f, got, wantBF)
			bad++
		}
		if got := F16FromFloat32(f); got != wantF16 {
			t.Errorf("F16FromFloat32(%s = %g) = %04x, torch %04x", r[0], f, got, wantF16)
			bad++
		}
		if bad > 20 {
			t.Fatal("too many mismatches")
		}
	}
}

// TestF16ToFloat32Exhaustive checks every binary16 pattern against the
// textbook formula and the round trip back to binary16.
func TestF16ToFloat32Exhaustive(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		u := uint16(h)
		sign := 1.0
		if u&0x8000 != 0 {
			sign = -1
		}
		e := int(u>>10) & 0x1f
		m := float64(u & 0x3ff)
		var want float64
		switch {
		case e == 0x1f && m == 0:
			want = math.Inf(int(sign))
		case e == 0x1f:
			want = math.NaN()
		case e == 0:
			want = sign * math.Ldexp(m, -24)
		default:
			want = sign * math.Ldexp(1+m/1024, e-15)
		}
		got := Float32FromF16(u)
		if math.IsNaN(want) {
			if !math.IsNaN(float64(got)) {
				t.Fatalf("Float32FromF16(%04x) = %g, want NaN", u, got)
			}
			if back := F16FromFloat32(got); back&0x7c00 != 0x7c00 || back&0x3ff == 0 || back&0x8000 != u&0x8000 {
				t.Fatalf("NaN %04x round trip gave %04x", u, back)
			}
			continue
		}
		if float64(got) != want || math.Signbit(float64(got)) != (sign < 0) {
			t.Fatalf("Float32FromF16(%04x) = %g, want %g", u, got, want)
		}
		if back := F16FromFloat32(got); back != u {
			t.Fatalf("F16FromFloat32(Float32FromF16(%04x)) = %04x", u, back)
		}
	}
}

func TestBF16RoundTripAndNaN(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		u := uint16(h)
		f := Float32FromBF16(u)
		if math.Float32bits(f) != uint32(u)<<16 {
			t.Fatalf("Float32FromBF16(%04x) bits %08x", u, math.Float32bits(f))
		}
		back := BF16FromFloat32(f)
		if math.IsNaN(float64(f)) {
			if !math.IsNaN(float64(Float32FromBF16(back))) {
				t.Fatalf("NaN %04x became %04x", u, back)
			}
			continue
		}
		if back != u {
			t.Fatalf("round trip %04x → %04x", u, back)
		}
	}
	// A NaN whose payload is only in the low 16 bits must not become Inf.
	for _, b := range []uint32{0x7f800001, 0xff800001, 0x7fc00000, 0x7f80ffff} {
		f := math.Float32frombits(b)
		if got := Float32FromBF16(BF16FromFloat32(f)); !math.IsNaN(float64(got)) {
			t.Errorf("bf16(%08x) = %g, want NaN", b, got)
		}
		if got := Float32FromF16(F16FromFloat32(f)); !math.IsNaN(float64(got)) {
			t.Errorf("f16(%08x) = %g, want NaN", b, got)
		}
	}
}

func TestParseDType(t *testing.T) {
	tests := []struct {
		in   string
		want DType
		ok   bool
	}{
		{"bfloat16", BF16, true}, {"bf16", BF16, true}, {"BF16", BF16, true},
		{"float16", F16, true}, {"fp32", F32, true}, {"F64", F64, true},
		{"I64", I64, true}, {"int4", "", false}, {"", "", false},
	}
	for _, tc := range tests {
		got, err := ParseDType(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseDType(%q) = %q, %v; want %q ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// TestF16RoundingAgainstNearest checks F16FromFloat32 on random float32
// values against a reference that picks the nearest binary16 value from
// the sorted list of all of them (ties to the even pattern).
func TestF16RoundingAgainstNearest(t *testing.T) {
	var vals []float64 // every finite non-negative f16 value, ascending
	for h := 0; h < 0x7c00; h++ {
		vals = append(vals, float64(Float32FromF16(uint16(h))))
	}
	ref := func(x float32) uint16 {
		a := math.Abs(float64(x))
		var h uint16
		switch i := sort.SearchFloat64s(vals, a); {
		case i == len(vals): // above 65504: Inf unless it rounds down
			if a < 65520 {
				h = 0x7bff
			} else {
				h = 0x7c00
			}
		case vals[i] == a:
			h = uint16(i)
		default:
			lo, hi := vals[i-1], vals[i]
			switch {
			case a-lo < hi-a:
				h = uint16(i - 1)
			case a-lo > hi-a:
				h = uint16(i)
			case (i-1)%2 == 0:
				h = uint16(i - 1)
			default:
				h = uint16(i)
			}
		}
		if math.Signbit(float64(x)) {
			h |= 0x8000
		}
		return h
	}
	r := rand.New(rand.NewPCG(7, 7))
	for n := 0; n < 300000; n++ {
		// Exponents around the f16 range, random mantissas (half the
		// time with the low 13 bits forced to a tie).
		e := uint32(96 + r.IntN(50))
		m := r.Uint32() & 0x7fffff
		if n%2 == 0 {
			m = m&^0x1fff | 0x1000
		}
		x := math.Float32frombits(r.Uint32()&0x80000000 | e<<23 | m)
		if got, want := F16FromFloat32(x), ref(x); got != want {
			t.Fatalf("F16FromFloat32(%g = %08x) = %04x, nearest is %04x", x, math.Float32bits(x), got, want)
		}
	}
}
