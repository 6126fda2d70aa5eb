package plot

import (
	"fmt"
	"image"
	"math"
	"slices"
	"strconv"
)

// Series is one named set of points. In a LineChart X[i], Y[i] is point i
// (NaN in either leaves a gap); in a BarChart X is ignored and Y[j] is the
// value for category j.
type Series struct {
	Name string
	X, Y []float64
}

// LineChart plots series as lines with markers on numeric axes.
type LineChart struct {
	Title, XLabel, YLabel string
	Series                []Series
	// LogX and LogY use base-10 logarithmic axes; every plotted value on
	// such an axis must then be > 0.
	LogX, LogY bool
	// Width and Height in pixels; 0 means 900×540.
	Width, Height int
}

// axis maps data values to pixels along one dimension.
type axis struct {
	lo, hi   float64 // data bounds of the axis
	log      bool
	p0, p1   float64 // pixel positions of lo and hi
	ticks    []float64
	step     float64 // linear tick step (0 on log axes)
	tickText []string
}

func (a *axis) pix(v float64) float64 {
	t := func(x float64) float64 {
		if a.log {
			return math.Log10(x)
		}
		return x
	}
	return a.p0 + (t(v)-t(a.lo))/(t(a.hi)-t(a.lo))*(a.p1-a.p0)
}

// newAxis builds an axis over the data range [lo, hi] (ok false: no data).
func newAxis(lo, hi float64, ok, log bool, maxTicks int) *axis {
	a := &axis{log: log}
	switch {
	case !ok && log:
		lo, hi = 1, 10
	case !ok:
		lo, hi = 0, 1
	}
	if log {
		a.lo, a.hi, a.ticks = logAxis(lo, hi)
	} else {
		a.lo, a.hi, a.ticks, a.step = linearAxis(lo, hi, maxTicks)
	}
	for _, t := range a.ticks {
		a.tickText = append(a.tickText, formatTick(t, a.step))
	}
	return a
}

// checkValues reports an error for infinite values and, on a log axis, for
// values ≤ 0; NaN values are allowed (missing points).
func checkValues(vals []float64, log bool, what string) error {
	for i, v := range vals {
		switch {
		case math.IsInf(v, 0):
			return fmt.Errorf("%s[%d] is infinite", what, i)
		case log && !math.IsNaN(v) && v <= 0:
			return fmt.Errorf("%s[%d] = %g cannot be shown on a log axis", what, i, v)
		}
	}
	return nil
}

// SavePNG draws the chart and writes it to path as a PNG.
func (c *LineChart) SavePNG(path string) error {
	img, err := c.render()
	if err != nil {
		return fmt.Errorf("plot: line chart %s: %w", path, err)
	}
	return img.save(path)
}

func (c *LineChart) render() (*canvas, error) {
	w, h, err := chartSize(c.Width, c.Height)
	if err != nil {
		return nil, err
	}
	xlo, xhi, ylo, yhi := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	points := 0
	for i, s := range c.Series {
		if len(s.X) != len(s.Y) {
			return nil, fmt.Errorf("series %d %q: %d X values but %d Y values", i, s.Name, len(s.X), len(s.Y))
		}
		if err := checkValues(s.X, c.LogX, fmt.Sprintf("series %d %q: X", i, s.Name)); err != nil {
			return nil, err
		}
		if err := checkValues(s.Y, c.LogY, fmt.Sprintf("series %d %q: Y", i, s.Name)); err != nil {
			return nil, err
		}
		for j := range s.X {
			x, y := s.X[j], s.Y[j]
			if math.IsNaN(x) || math.IsNaN(y) {
				continue
			}
			points++
			xlo, xhi = math.Min(xlo, x), math.Max(xhi, x)
			ylo, yhi = math.Min(ylo, y), math.Max(yhi, y)
		}
	}
	cv, err := newCanvas(w, h)
	if err != nil {
		return nil, err
	}
	xa := newAxis(xlo, xhi, points > 0, c.LogX, 8)
	if c.LogX {
		// Powers of two (context lengths) get ticks at the data.
		if xs := powersOfTwo(c.Series); xs != nil {
			xa.ticks, xa.tickText = xs, nil
			for _, v := range xs {
				xa.tickText = append(xa.tickText, formatPow2(v))
			}
		}
	}
	ya := newAxis(ylo, yhi, points > 0, c.LogY, 7)
	var entries []legendEntry
	if len(c.Series) > 1 || (len(c.Series) == 1 && c.Series[0].Name != "") {
		for i, s := range c.Series {
			name := s.Name
			if name == "" {
				name = fmt.Sprintf("series %d", i+1)
			}
			entries = append(entries, legendEntry{name, seriesColor(i)})
		}
	}
	plotRect := cv.frame(c.Title, c.XLabel, c.YLabel, xa.tickText, ya.tickText, 0, cv.legendWidth(entries))
	// Data stays a few pixels inside the frame, so that lines at the
	// axis bounds (accuracy 0 or 100 %) remain visible.
	const inset = 6
	xa.p0, xa.p1 = float64(plotRect.Min.X+inset), float64(plotRect.Max.X-1-inset)
	ya.p0, ya.p1 = float64(plotRect.Max.Y-1-inset), float64(plotRect.Min.Y+inset)
	cv.grid(plotRect, xa, ya)
	if points == 0 {
		cv.text("no data", (plotRect.Min.X+plotRect.Max.X)/2, (plotRect.Min.Y+plotRect.Max.Y)/2, cv.regular, axisColor, alignCenter, alignMiddle)
	}
	clip := plotRect.Inset(1)
	for i, s := range c.Series {
		col := seriesColor(i)
		prevOK := false
		var px, py float64
		n := 0
		for j := range s.X {
			if !math.IsNaN(s.X[j]) && !math.IsNaN(s.Y[j]) {
				n++
			}
		}
		for j := range s.X {
			x, y := s.X[j], s.Y[j]
			if math.IsNaN(x) || math.IsNaN(y) {
				prevOK = false
				continue
			}
			qx, qy := xa.pix(x), ya.pix(y)
			if prevOK {
				cv.line(px, py, qx, qy, 2, col, clip)
			}
			if n <= 60 {
				cv.marker(qx, qy, 3, col, clip)
			}
			px, py, prevOK = qx, qy, true
		}
	}
	if len(entries) > 0 {
		cv.legend(entries, plotRect.Max.X+14, plotRect.Min.Y, false)
	}
	return cv, nil
}

const pad = 12

// frame lays out the title, axis labels, tick labels and legend space,
// and returns the plotting rectangle. extraBottom reserves room below the
// x tick labels (rotated category labels).
func (c *canvas) frame(title, xlabel, ylabel string, xticks, yticks []string, extraBottom, legendW int) image.Rectangle {
	b := c.img.Bounds()
	top := pad
	if title != "" {
		top += textHeight(c.bold) + pad
	} else {
		top += 6
	}
	tickW := 0
	for _, s := range yticks {
		tickW = max(tickW, textWidth(c.regular, s))
	}
	left := pad + tickW + 8
	if ylabel != "" {
		left += textHeight(c.regular) + 8
	}
	bottom := pad + textHeight(c.regular) + 8 + extraBottom
	if xlabel != "" {
		bottom += textHeight(c.regular) + 6
	}
	right := pad + 8
	if legendW > 0 {
		right = pad + legendW
	}
	if len(xticks) > 0 {
		// Room for half of the last tick label.
		right = max(right, textWidth(c.regular, xticks[len(xticks)-1])/2+pad)
	}
	r := image.Rect(left, top, b.Max.X-right, b.Max.Y-bottom)
	if r.Dx() < 40 || r.Dy() < 40 { // very long labels: keep a usable plot
		r = image.Rect(b.Max.X/5, b.Max.Y/6, b.Max.X*4/5, b.Max.Y*4/5)
	}
	if title != "" {
		c.text(title, (b.Min.X+b.Max.X)/2, pad, c.bold, ink, alignCenter, alignTop)
	}
	if xlabel != "" {
		c.text(xlabel, (r.Min.X+r.Max.X)/2, b.Max.Y-pad, c.regular, ink, alignCenter, alignBottom)
	}
	if ylabel != "" {
		c.textUp(ylabel, pad, (r.Min.Y+r.Max.Y)/2, c.regular, ink, alignCenter, alignTop)
	}
	return r
}

// grid draws grid lines, the plot border and tick labels of numeric axes
// (ya always; xa when not nil).
func (c *canvas) grid(r image.Rectangle, xa, ya *axis) {
	if xa != nil {
		for i, t := range xa.ticks {
			x := int(math.Round(xa.pix(t)))
			c.fill(image.Rect(x, r.Min.Y, x+1, r.Max.Y), gridColor)
			c.fill(image.Rect(x, r.Max.Y, x+1, r.Max.Y+5), axisColor)
			c.text(xa.tickText[i], x, r.Max.Y+7, c.regular, ink, alignCenter, alignTop)
		}
	}
	for i, t := range ya.ticks {
		y := int(math.Round(ya.pix(t)))
		c.fill(image.Rect(r.Min.X, y, r.Max.X, y+1), gridColor)
		c.fill(image.Rect(r.Min.X-5, y, r.Min.X, y+1), axisColor)
		c.text(ya.tickText[i], r.Min.X-8, y, c.regular, ink, alignRight, alignMiddle)
	}
	c.rect(r, axisColor)
}

// powersOfTwo returns the sorted distinct X values of the series when
// there are 2 to 16 of them and every one is a power of two ≥ 1 (context
// lengths), else nil.
func powersOfTwo(series []Series) []float64 {
	seen := map[float64]bool{}
	var xs []float64
	for _, s := range series {
		for j, x := range s.X {
			if math.IsNaN(x) || math.IsNaN(s.Y[j]) {
				continue
			}
			if frac, _ := math.Frexp(x); x < 1 || frac != 0.5 {
				return nil
			}
			if !seen[x] {
				seen[x] = true
				xs = append(xs, x)
			}
		}
	}
	if len(xs) < 2 || len(xs) > 16 {
		return nil
	}
	slices.Sort(xs)
	return xs
}

// formatPow2 labels a power of two in binary units: 512, 1k, 128k, 1M.
func formatPow2(v float64) string {
	switch {
	case v >= 1<<20:
		return strconv.FormatFloat(v/(1<<20), 'f', -1, 64) + "M"
	case v >= 1<<10:
		return strconv.FormatFloat(v/(1<<10), 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}
