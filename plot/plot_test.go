package plot

import (
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// load decodes the PNG at path.
func load(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	return img
}

// where returns the number of pixels of exactly colour c and their mean
// position.
func where(img image.Image, c color.RGBA) (n int, mx, my float64) {
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bb, a := img.At(x, y).RGBA()
			if uint8(r>>8) == c.R && uint8(g>>8) == c.G && uint8(bb>>8) == c.B && uint8(a>>8) == c.A {
				n++
				mx += float64(x)
				my += float64(y)
			}
		}
	}
	if n > 0 {
		mx /= float64(n)
		my /= float64(n)
	}
	return n, mx, my
}

func TestLineChartPixels(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "line.png")
	c := &LineChart{
		Title: "t", XLabel: "x", YLabel: "y",
		Series: []Series{
			{Name: "high", X: []float64{0, 1, 2, 3}, Y: []float64{10, 10, 10, 10}},
			{Name: "low", X: []float64{0, 1, 2, 3}, Y: []float64{1, 1, math.NaN(), 1}},
			{Name: "rising", X: []float64{0, 3}, Y: []float64{1, 10}},
		},
	}
	if err := c.SavePNG(path); err != nil {
		t.Fatal(err)
	}
	img := load(t, path)
	if b := img.Bounds(); b.Dx() != DefaultWidth || b.Dy() != DefaultHeight {
		t.Fatalf("size %v, want %dx%d", b, DefaultWidth, DefaultHeight)
	}
	nh, hx, hy := where(img, seriesColor(0))
	nl, lx, ly := where(img, seriesColor(1))
	nr, _, _ := where(img, seriesColor(2))
	if nh < 500 || nl < 200 || nr < 200 {
		t.Fatalf("series pixels: high %d, low %d, rising %d; want lines", nh, nl, nr)
	}
	if hy >= ly {
		t.Errorf("series high drawn at mean y %.0f, not above series low at %.0f", hy, ly)
	}
	// The gap at the NaN point removes part of the low line.
	if nl >= nh {
		t.Errorf("low line (with a NaN gap) has %d pixels, full line %d", nl, nh)
	}
	_ = hx
	_ = lx
	// No temporary files left behind.
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("directory holds %d entries, want only line.png", len(ents))
	}
}

func TestLineChartLogAndSize(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.png")
	c := &LineChart{
		LogX: true, LogY: true, Width: 400, Height: 300,
		Series: []Series{{X: []float64{1e3, 1e4, 1e5}, Y: []float64{1, 10, 100}}},
	}
	if err := c.SavePNG(path); err != nil {
		t.Fatal(err)
	}
	img := load(t, path)
	if b := img.Bounds(); b.Dx() != 400 || b.Dy() != 300 {
		t.Fatalf("size %v, want 400x300", b)
	}
	// On log-log axes y = x/1000 is a straight line: the pixel midpoint of
	// the middle point lies halfway between the ends.
	n, mx, my := where(img, seriesColor(0))
	if n == 0 {
		t.Fatal("series not drawn")
	}
	if mx < 150 || mx > 260 || my < 90 || my > 200 {
		t.Errorf("line centre at (%.0f, %.0f), want near the plot centre", mx, my)
	}
}

func TestBarChartPixels(t *testing.T) {
	for _, stacked := range []bool{false, true} {
		path := filepath.Join(t.TempDir(), "bar.png")
		c := &BarChart{
			Title: "bars", Categories: []string{"a", "b", "c"}, Stacked: stacked,
			Series: []Series{{Name: "s1", Y: []float64{1, 2, 3}}, {Name: "s2", Y: []float64{3, math.NaN(), 1}}},
		}
		if err := c.SavePNG(path); err != nil {
			t.Fatal(err)
		}
		img := load(t, path)
		// Topmost pixel of series 0's colour in each third of the plot.
		col := seriesColor(0)
		b := img.Bounds()
		tops := make([]int, 3)
		for k := range tops {
			tops[k] = -1
		}
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := 60; x < b.Max.X-150; x++ {
				r, g, bb, _ := img.At(x, y).RGBA()
				if uint8(r>>8) != col.R || uint8(g>>8) != col.G || uint8(bb>>8) != col.B {
					continue
				}
				k := (x - 60) * 3 / (b.Max.X - 210)
				if k < 3 && tops[k] < 0 {
					tops[k] = y
				}
			}
		}
		if !stacked && !(tops[0] > tops[1] && tops[1] > tops[2]) {
			t.Errorf("grouped: bar tops %v, want decreasing y for values 1, 2, 3", tops)
		}
		if stacked && !(tops[0] > tops[1] && tops[1] > tops[2]) {
			// Series 0 sits at the bottom of each stack: its tops follow 1, 2, 3.
			t.Errorf("stacked: bar tops %v, want decreasing y", tops)
		}
		if n, _, _ := where(img, seriesColor(1)); n == 0 {
			t.Error("series 2 not drawn")
		}
	}
}

func TestHeatmapCellOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "heat.png")
	vals := []float64{0, 0.25, 0.5, 0.75, 1}
	h := &Heatmap{
		Title: "h", XTicks: []string{"a", "b", "c", "d", "e", "f"}, YTicks: []string{"r0", "r1"},
		Values: [][]float64{append(append([]float64{}, vals...), math.NaN()), {0, 0, 0, 0, 0, 0}},
		Min:    0, Max: 1, Annotate: true,
	}
	if err := h.SavePNG(path); err != nil {
		t.Fatal(err)
	}
	img := load(t, path)
	prevX, prevL := -1.0, -1.0
	for _, v := range vals[1:] { // value 0 fills row 1 too
		c := colorMap(v)
		n, mx, my := where(img, c)
		if n < 1000 {
			t.Fatalf("value %g: %d pixels of its colour, want a cell", v, n)
		}
		if mx <= prevX {
			t.Errorf("value %g: cell at x %.0f not right of the previous cell (%.0f)", v, mx, prevX)
		}
		if l := luminance(c); l <= prevL {
			t.Errorf("value %g: luminance %.3f not above %.3f", v, l, prevL)
		} else {
			prevL = l
		}
		if my > float64(img.Bounds().Dy())/2 {
			t.Errorf("value %g: cell at y %.0f, want row 0 in the top half", v, my)
		}
		prevX = mx
	}
	if n, _, _ := where(img, missing); n < 1000 {
		t.Errorf("NaN cell: %d grey pixels, want a grey cell", n)
	}
}

func TestColorMapMonotone(t *testing.T) {
	prev := -1.0
	for i := 0; i <= 100; i++ {
		l := luminance(colorMap(float64(i) / 100))
		if l < prev-1e-3 {
			t.Fatalf("luminance falls at %d%%: %.3f < %.3f", i, l, prev)
		}
		prev = l
	}
	if colorMap(-5) != colorMap(0) || colorMap(7) != colorMap(1) {
		t.Error("colorMap does not clamp")
	}
}

func TestBlankCharts(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		save func(string) error
	}{
		{"no series", (&LineChart{Title: "empty"}).SavePNG},
		{"all NaN", (&LineChart{Series: []Series{{X: []float64{math.NaN()}, Y: []float64{1}}}}).SavePNG},
		{"log no data", (&LineChart{LogX: true, LogY: true, Series: []Series{{}}}).SavePNG},
		{"bar all NaN", (&BarChart{Categories: []string{"a"}, Series: []Series{{Y: []float64{math.NaN()}}}}).SavePNG},
		{"heat all NaN", (&Heatmap{Values: [][]float64{{math.NaN()}}}).SavePNG},
		{"heat constant", (&Heatmap{Values: [][]float64{{3, 3}}, Annotate: true}).SavePNG},
		{"extreme values", (&LineChart{Series: []Series{{X: []float64{-1e308, 1e308}, Y: []float64{0, 5e-324}}}}).SavePNG},
		{"extreme bars", (&BarChart{Categories: []string{"a", "b"}, Stacked: true, Series: []Series{{Y: []float64{1.7e308, 1.7e308}}, {Y: []float64{1.7e308, -1.7e308}}}}).SavePNG},
		{"single point", (&LineChart{Series: []Series{{X: []float64{5}, Y: []float64{5}}}}).SavePNG},
	}
	for _, c := range cases {
		p := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".png")
		if err := c.save(p); err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		load(t, p)
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	inf := math.Inf(1)
	cases := []struct {
		name, want string
		save       func(string) error
	}{
		{"line X/Y lengths", "2 X values but 1 Y", (&LineChart{Series: []Series{{Name: "s", X: []float64{1, 2}, Y: []float64{1}}}}).SavePNG},
		{"line Inf", "infinite", (&LineChart{Series: []Series{{X: []float64{1}, Y: []float64{inf}}}}).SavePNG},
		{"log zero", "log axis", (&LineChart{LogX: true, Series: []Series{{X: []float64{0, 1}, Y: []float64{1, 2}}}}).SavePNG},
		{"log negative y", "log axis", (&LineChart{LogY: true, Series: []Series{{X: []float64{1}, Y: []float64{-1}}}}).SavePNG},
		{"too small", "out of range", (&LineChart{Width: 10, Height: 10}).SavePNG},
		{"negative size", "out of range", (&BarChart{Width: -1, Categories: []string{"a"}, Series: []Series{{Y: []float64{1}}}}).SavePNG},
		{"bar no categories", "no categories", (&BarChart{Series: []Series{{Y: []float64{}}}}).SavePNG},
		{"bar no series", "no series", (&BarChart{Categories: []string{"a"}}).SavePNG},
		{"bar lengths", "1 values for 2 categories", (&BarChart{Categories: []string{"a", "b"}, Series: []Series{{Y: []float64{1}}}}).SavePNG},
		{"bar Inf", "infinite", (&BarChart{Categories: []string{"a"}, Series: []Series{{Y: []float64{-inf}}}}).SavePNG},
		{"heat empty", "no values", (&Heatmap{}).SavePNG},
		{"heat empty row", "row 0 is empty", (&Heatmap{Values: [][]float64{{}}}).SavePNG},
		{"heat ragged", "row 1 has 1 values", (&Heatmap{Values: [][]float64{{1, 2}, {1}}}).SavePNG},
		{"heat xticks", "1 XTicks for 2 columns", (&Heatmap{Values: [][]float64{{1, 2}}, XTicks: []string{"a"}}).SavePNG},
		{"heat yticks", "2 YTicks for 1 rows", (&Heatmap{Values: [][]float64{{1, 2}}, YTicks: []string{"a", "b"}}).SavePNG},
		{"heat min>max", "Min 2 > Max 1", (&Heatmap{Values: [][]float64{{1}}, Min: 2, Max: 1}).SavePNG},
		{"heat NaN scale", "not finite", (&Heatmap{Values: [][]float64{{1}}, Min: math.NaN()}).SavePNG},
		{"heat Inf", "infinite", (&Heatmap{Values: [][]float64{{inf}}}).SavePNG},
	}
	for _, c := range cases {
		p := filepath.Join(dir, "x.png")
		err := c.save(p)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %q, want it to mention %q and the file", c.name, err, c.want)
		}
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s: file written despite the error", c.name)
		}
	}
	// A directory that does not exist: an error, not a panic.
	err := (&LineChart{}).SavePNG(filepath.Join(dir, "missing", "x.png"))
	if err == nil {
		t.Error("saving into a missing directory: no error")
	}
}

func TestLinearAxis(t *testing.T) {
	cases := []struct {
		lo, hi             float64
		wantLo, wantHi, st float64
	}{
		{0, 1, 0, 1, 0.2},
		{0.13, 0.87, 0, 1, 0.2},
		{2.31, 3.52, 2, 4, 0.5},
		{0, 4000, 0, 4000, 1000},
		{-0.02, 0.4, -0.1, 0.4, 0.1},
		{5, 5, 4.4, 5.6, 0.2},
		{0, 0, -1, 1, 0.5},
	}
	for _, c := range cases {
		lo, hi, ticks, step := linearAxis(c.lo, c.hi, 7)
		if math.Abs(lo-c.wantLo) > 1e-9 || math.Abs(hi-c.wantHi) > 1e-9 || math.Abs(step-c.st) > 1e-12 {
			t.Errorf("linearAxis(%g, %g) = [%g, %g] step %g, want [%g, %g] step %g", c.lo, c.hi, lo, hi, step, c.wantLo, c.wantHi, c.st)
		}
		if len(ticks) < 2 || ticks[0] != lo || math.Abs(ticks[len(ticks)-1]-hi) > 1e-9 {
			t.Errorf("linearAxis(%g, %g): ticks %v do not span [%g, %g]", c.lo, c.hi, ticks, lo, hi)
		}
	}
}

func TestLogAxis(t *testing.T) {
	_, _, ticks := logAxis(1024, 131072)
	want := []float64{2000, 5000, 1e4, 2e4, 5e4, 1e5}
	for _, w := range want {
		found := false
		for _, v := range ticks {
			if math.Abs(v-w) < 1e-6 {
				found = true
			}
		}
		if !found {
			t.Errorf("logAxis(1024, 131072): ticks %v lack %g", ticks, w)
		}
	}
	lo, hi, ticks := logAxis(1e-3, 1e9)
	if len(ticks) < 3 || len(ticks) > 10 || lo >= 1e-3 || hi <= 1e9 {
		t.Errorf("logAxis(1e-3, 1e9) = [%g, %g] %v", lo, hi, ticks)
	}
	_, _, ticks = logAxis(1100, 1400) // no 1-2-5 value inside: linear fallback
	if len(ticks) < 2 {
		t.Errorf("logAxis(1100, 1400): ticks %v", ticks)
	}
}

func TestFormatTick(t *testing.T) {
	cases := []struct {
		v, step float64
		want    string
	}{
		{0, 0.2, "0"},
		{0.4, 0.2, "0.4"},
		{0.25, 0.05, "0.25"},
		{2.5, 0.5, "2.5"},
		{200, 200, "200"},
		{1000, 200, "1k"},
		{1200, 200, "1.2k"},
		{131072, 0, "131.072k"},
		{2e6, 5e5, "2M"},
		{-3000, 1000, "-3k"},
		{1e4, 0, "10k"},
		{0.002, 0, "0.002"},
	}
	for _, c := range cases {
		if got := formatTick(c.v, c.step); got != c.want {
			t.Errorf("formatTick(%g, %g) = %q, want %q", c.v, c.step, got, c.want)
		}
	}
	for v, want := range map[float64]string{0.5: "0.5", 1: "1", 0.123: "0.12", 12.34: "12.3", 250: "250", 1e5: "1e+05", math.NaN(): ""} {
		if got := formatValue(v); got != want {
			t.Errorf("formatValue(%g) = %q, want %q", v, got, want)
		}
	}
}

// FuzzLineChart renders arbitrary small series and must never panic.
func FuzzLineChart(f *testing.F) {
	f.Add(1.0, 2.0, 3.0, 4.0, false, false)
	f.Add(0.0, -1.0, math.NaN(), math.Inf(1), true, true)
	f.Add(1e-300, 1e300, 5.0, 5.0, true, false)
	f.Fuzz(func(t *testing.T, x0, y0, x1, y1 float64, logX, logY bool) {
		c := &LineChart{Width: minWidth, Height: minHeight, LogX: logX, LogY: logY,
			Series: []Series{{Name: "a", X: []float64{x0, x1}, Y: []float64{y0, y1}}}}
		if _, err := c.render(); err != nil {
			return
		}
		h := &Heatmap{Width: minWidth, Height: minHeight, Values: [][]float64{{x0, y0}, {x1, y1}}, Annotate: true}
		h.render()
		b := &BarChart{Width: minWidth, Height: minHeight, Categories: []string{"a", "b"}, Stacked: logX,
			Series: []Series{{Y: []float64{x0, y0}}, {Y: []float64{x1, y1}}}}
		b.render()
	})
}

func TestPowersOfTwoTicks(t *testing.T) {
	cases := []struct {
		xs   []float64
		want []float64
	}{
		{[]float64{4096, 1024, 2048, 1024}, []float64{1024, 2048, 4096}},
		{[]float64{1024, 3000}, nil},
		{[]float64{1024}, nil},
		{[]float64{0.5, 1}, nil},
		{[]float64{1024, math.NaN(), 131072}, []float64{1024, 131072}},
	}
	for _, c := range cases {
		ys := make([]float64, len(c.xs))
		got := powersOfTwo([]Series{{X: c.xs, Y: ys}})
		if len(got) != len(c.want) {
			t.Errorf("powersOfTwo(%v) = %v, want %v", c.xs, got, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("powersOfTwo(%v) = %v, want %v", c.xs, got, c.want)
			}
		}
	}
}

func TestFormatPow2(t *testing.T) {
	for v, want := range map[float64]string{1: "1", 512: "512", 1024: "1k", 131072: "128k", 1 << 20: "1M", 1 << 21: "2M"} {
		if got := formatPow2(v); got != want {
			t.Errorf("formatPow2(%g) = %q, want %q", v, got, want)
		}
	}
}
