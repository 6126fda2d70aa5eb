package positions

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

// randomSentences splits ls tokens into random sentence lengths.
func randomSentences(rng *rand.Rand, ls int) []int {
	var lens []int
	for left := ls; left > 0; {
		l := min(left, 1+rng.IntN(40))
		lens = append(lens, l)
		left -= l
	}
	return lens
}

func TestLongRecipeProperties(t *testing.T) {
	for _, tc := range []struct{ ls, lt int }{
		{1, 1}, {1, 10}, {2, 2}, {7, 100}, {100, 100}, {300, 1000}, {2400, 8000}, {1000, 1 << 20},
	} {
		for seed := range uint64(200) {
			rng := rand.New(rand.NewPCG(seed, uint64(tc.ls)))
			sents := randomSentences(rng, tc.ls)
			pos, rt1, err := LongRecipe(rng, sents, tc.lt)
			if err != nil {
				t.Fatalf("ls %d lt %d seed %d: %v", tc.ls, tc.lt, seed, err)
			}
			if len(pos) != tc.ls {
				t.Fatalf("ls %d lt %d seed %d: %d positions", tc.ls, tc.lt, seed, len(pos))
			}
			if err := Check(pos, tc.lt); err != nil {
				t.Fatalf("ls %d lt %d seed %d: %v", tc.ls, tc.lt, seed, err)
			}
			if rt1 < 1 || rt1 > (tc.ls+1)/2 {
				t.Fatalf("rt1 %d outside [1, %d]", rt1, (tc.ls+1)/2)
			}
			for i := range rt1 {
				if pos[i] != int32(i) {
					t.Fatalf("head position %d = %d", i, pos[i])
				}
			}
			start := 0
			for _, l := range sents {
				for j := start + 1; j < start+l; j++ {
					if pos[j] != pos[j-1]+1 {
						t.Fatalf("ls %d lt %d seed %d: sentence at %d not contiguous", tc.ls, tc.lt, seed, start)
					}
				}
				start += l
			}
		}
	}
}

// TestLongRecipeSpreadsGaps checks the transformed positions really use the
// target window: averaged over samples the last position is near lt.
func TestLongRecipeSpreadsGaps(t *testing.T) {
	const ls, lt, n = 2400, 8000, 300
	var sumLast float64
	for seed := range uint64(n) {
		rng := rand.New(rand.NewPCG(seed, 1))
		pos, _, err := LongRecipe(rng, randomSentences(rng, ls), lt)
		if err != nil {
			t.Fatal(err)
		}
		sumLast += float64(pos[len(pos)-1])
	}
	// With ~120 units the expected final gap is (lt-ls)/(units+1) ≈ 46.
	if mean := sumLast / n; mean < lt-200 || mean >= lt {
		t.Fatalf("mean last position %.1f, want within 200 of %d", mean, lt)
	}
}

func TestScatterErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, tc := range []struct {
		lens []int
		lt   int
	}{{[]int{3, 0}, 10}, {[]int{5, 6}, 10}, {[]int{-1}, 10}, {[]int{1}, MaxLength + 1}} {
		if _, err := Scatter(rng, tc.lens, tc.lt); err == nil {
			t.Errorf("Scatter(%v, %d) gave no error", tc.lens, tc.lt)
		}
	}
	if _, _, err := LongRecipe(rng, nil, 10); err == nil {
		t.Error("LongRecipe with no sentences gave no error")
	}
}

// TestScatterUniform: two one-token units in lt=4 leave unit 1 in slot 1, 2
// or 3 with equal probability, i.e. at position 1, 2 or 3.
func TestScatterUniform(t *testing.T) {
	const n = 30000
	counts := map[int32]int{}
	rng := rand.New(rand.NewPCG(9, 9))
	for range n {
		pos, err := Scatter(rng, []int{1, 1}, 4)
		if err != nil {
			t.Fatal(err)
		}
		if pos[0] != 0 {
			t.Fatalf("unit 0 at %d", pos[0])
		}
		counts[pos[1]]++
	}
	chiSquare(t, []int{counts[1], counts[2], counts[3]}, n)
}

// chiSquare fails if observed counts are implausible under a uniform law
// (threshold: p < 0.001 for up to 10 degrees of freedom).
func chiSquare(t *testing.T, obs []int, n int) {
	t.Helper()
	e := float64(n) / float64(len(obs))
	var x float64
	for _, o := range obs {
		x += (float64(o) - e) * (float64(o) - e) / e
	}
	if x > 29.6 {
		t.Fatalf("chi-square %.1f over %d cells: counts %v not uniform", x, len(obs), obs)
	}
}

func TestSampleSortedUniform(t *testing.T) {
	const n = 50000
	rng := rand.New(rand.NewPCG(3, 4))
	counts := map[[2]int]int{}
	for range n {
		s := sampleSorted(rng, 2, 5)
		counts[[2]int{s[0], s[1]}]++
	}
	var obs []int
	for a := range 5 {
		for b := a + 1; b < 5; b++ {
			obs = append(obs, counts[[2]int{a, b}])
		}
	}
	if len(counts) != 10 {
		t.Fatalf("%d distinct pairs, want 10: %v", len(counts), counts)
	}
	chiSquare(t, obs, n)
}

func TestPoSE(t *testing.T) {
	for _, tc := range []struct{ n, ls, lt int }{
		{1, 1, 1}, {5, 5, 5}, {10, 4, 20}, {1000, 240, 800}, {100000, 24000, 80000},
	} {
		for seed := range uint64(200) {
			rng := rand.New(rand.NewPCG(seed, 7))
			s, err := PoSE(rng, tc.n, tc.ls, tc.lt)
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Positions) != tc.ls {
				t.Fatalf("%d positions for ls %d", len(s.Positions), tc.ls)
			}
			if err := Check(s.Positions, tc.lt); err != nil {
				t.Fatal(err)
			}
			if s.Chunk1End < 1 || s.Chunk1End > (tc.ls+1)/2 ||
				s.Chunk2Start < s.Chunk1End || s.Chunk2End > tc.n ||
				s.Chunk2End-s.Chunk2Start != tc.ls-s.Chunk1End ||
				s.Skip < 0 || s.Skip > tc.lt-tc.ls {
				t.Fatalf("bad sample %+v for %+v", s, tc)
			}
			// Exactly two runs: 0..rt1-1, then rt1+skip onwards.
			for j, p := range s.Positions {
				want := j
				if j >= s.Chunk1End {
					want += s.Skip
				}
				if int(p) != want {
					t.Fatalf("position %d = %d, want %d", j, p, want)
				}
			}
		}
	}
}

// TestPoSENoFallback is the reference defect: at 24k→80k its PoSE baseline
// fell back to 0..n-1 for ~57 % of samples. Here no sample falls back: the
// skip is uniform on [0, lt-ls], so the chunk-2 shift is > 0 nearly always
// and the mean span reaches about ls + (lt-ls)/2.
func TestPoSENoFallback(t *testing.T) {
	const n, ls, lt, samples = 200000, 24000, 80000, 2000
	plain := 0
	var span float64
	for seed := range uint64(samples) {
		rng := rand.New(rand.NewPCG(seed, 11))
		s, err := PoSE(rng, n, ls, lt)
		if err != nil {
			t.Fatal(err)
		}
		if s.Positions[ls-1] == ls-1 {
			plain++
		}
		span += float64(s.Positions[ls-1] + 1)
	}
	if plain > 2 {
		t.Fatalf("%d of %d samples have plain positions 0..n-1", plain, samples)
	}
	if mean := span / samples; math.Abs(mean-(ls+(lt-ls)/2.0)) > 2000 {
		t.Fatalf("mean span %.0f, want about %d", mean, ls+(lt-ls)/2)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	if _, err := PoSE(rng, ls-1, ls, lt); err == nil {
		t.Fatal("document shorter than ls accepted")
	}
}

func TestRandPos(t *testing.T) {
	for _, tc := range []struct{ ls, lt int }{{0, 5}, {1, 1}, {5, 5}, {10, 1000}, {2400, 8000}, {100, 1 << 30}} {
		for seed := range uint64(50) {
			rng := rand.New(rand.NewPCG(seed, 3))
			pos, err := RandPos(rng, tc.ls, tc.lt)
			if err != nil {
				t.Fatal(err)
			}
			if len(pos) != tc.ls {
				t.Fatalf("%d positions, want %d", len(pos), tc.ls)
			}
			if err := Check(pos, tc.lt); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Uniform marginals: bucket counts over 10 buckets of [0, 1000).
	rng := rand.New(rand.NewPCG(5, 5))
	counts := make([]int, 10)
	const draws = 3000
	for range draws {
		pos, _ := RandPos(rng, 10, 1000)
		for _, p := range pos {
			counts[p/100]++
		}
	}
	chiSquare(t, counts, 10*draws)
	if _, err := RandPos(rng, 11, 10); err == nil {
		t.Fatal("ls > lt accepted")
	}
}

// TestMemoryIndependentOfTarget: drawing a few positions in a huge window
// allocates O(ls), not O(lt).
func TestMemoryIndependentOfTarget(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 10 {
		if _, err := RandPos(rng, 1000, MaxLength); err != nil {
			t.Fatal(err)
		}
		if _, _, err := LongRecipe(rng, randomSentences(rng, 1000), MaxLength); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if perCall := (after.TotalAlloc - before.TotalAlloc) / 20; perCall > 200_000 {
		t.Fatalf("%d bytes allocated per call for 1000 tokens", perCall)
	}
}

func TestFull(t *testing.T) {
	if got := Full(4); !slices.Equal(got, []int32{0, 1, 2, 3}) {
		t.Fatalf("Full(4) = %v", got)
	}
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		pos []int32
		lt  int
		ok  bool
	}{
		{[]int32{0, 1, 5}, 6, true},
		{[]int32{0, 1, 6}, 6, false},
		{[]int32{-1, 1}, 6, false},
		{[]int32{0, 2, 2}, 6, false},
		{nil, 0, true},
	} {
		if err := Check(tc.pos, tc.lt); (err == nil) != tc.ok {
			t.Errorf("Check(%v, %d) = %v", tc.pos, tc.lt, err)
		}
	}
}

// TestSampleSortedPaths: the bit-set and hash-set paths give the same
// sample for the same draws.
func TestSampleSortedPaths(t *testing.T) {
	for _, tc := range []struct{ k, n int }{{1, 1}, {3, 10}, {100, 1000}, {1000, 1001}, {50, 100000}} {
		for seed := range uint64(20) {
			a := sampleSortedPath(rand.New(rand.NewPCG(seed, 1)), tc.k, tc.n, true)
			b := sampleSortedPath(rand.New(rand.NewPCG(seed, 1)), tc.k, tc.n, false)
			if !slices.Equal(a, b) {
				t.Fatalf("k %d n %d seed %d: paths differ", tc.k, tc.n, seed)
			}
			if len(a) != tc.k || !slices.IsSorted(a) || a[0] < 0 || a[len(a)-1] >= tc.n {
				t.Fatalf("bad sample %v", a)
			}
			for i := 1; i < len(a); i++ {
				if a[i] == a[i-1] {
					t.Fatalf("duplicate %d", a[i])
				}
			}
		}
	}
}

func BenchmarkRandPos(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	for b.Loop() {
		RandPos(rng, 24*1024, 80*1024)
	}
	b.ReportMetric(float64(24*1024*b.N)/b.Elapsed().Seconds(), "pos/s")
}

func TestTrainLength(t *testing.T) {
	for _, c := range []struct {
		ratio float64
		lt    int
		want  int
	}{
		{0.3, 1000, 300},
		{0.3, 1001, 300}, // 300.3 rounds down
		{0.3, 1005, 302}, // 301.5 rounds half up
		{0.5, 3, 2},      // 1.5 rounds half away from zero
		{1, 4096, 4096},  // the whole window
		{0.001, 100, 1},  // 0.1 would round to 0: at least one token
		{DefaultRatio, 10, 3},
	} {
		if got := TrainLength(c.ratio, c.lt); got != c.want {
			t.Errorf("TrainLength(%v, %d) = %d, want %d", c.ratio, c.lt, got, c.want)
		}
	}
}
