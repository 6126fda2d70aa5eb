package plot

import (
	"fmt"
	"image"
	"image/color"
	"math"
)

// Heatmap draws a grid of coloured cells with a colour bar. Row 0 is drawn
// at the top; column 0 at the left.
type Heatmap struct {
	Title, XLabel, YLabel string
	// XTicks label the columns and YTicks the rows; either may be empty
	// (no labels), otherwise it must have one entry per column or row.
	XTicks, YTicks []string
	// Values[row][col]; every row has the same length; NaN = missing
	// (drawn grey).
	Values [][]float64
	// Min and Max bound the colour scale (values outside are clamped);
	// both 0 means the range of the data.
	Min, Max float64
	// Width and Height in pixels; 0 means 900×540.
	Width, Height int
	// Annotate prints each cell's value in it (when it fits).
	Annotate bool
}

// viridisStops samples matplotlib's viridis colour map: perceptually
// uniform, readable in grey and by colour-blind readers; brightness grows
// with the value.
var viridisStops = []color.RGBA{
	{68, 1, 84, 255}, {71, 44, 122, 255}, {59, 81, 139, 255}, {44, 113, 142, 255},
	{33, 144, 141, 255}, {39, 173, 129, 255}, {92, 200, 99, 255}, {170, 220, 50, 255},
	{253, 231, 37, 255},
}

// colorMap returns the colour of t in [0, 1] (clamped).
func colorMap(t float64) color.RGBA {
	t = math.Max(0, math.Min(1, t))
	f := t * float64(len(viridisStops)-1)
	i := int(f)
	if i >= len(viridisStops)-1 {
		return viridisStops[len(viridisStops)-1]
	}
	a, b := viridisStops[i], viridisStops[i+1]
	u := f - float64(i)
	mix := func(x, y uint8) uint8 { return uint8(math.Round(float64(x) + u*(float64(y)-float64(x)))) }
	return color.RGBA{mix(a.R, b.R), mix(a.G, b.G), mix(a.B, b.B), 255}
}

func luminance(c color.RGBA) float64 {
	return (0.2126*float64(c.R) + 0.7152*float64(c.G) + 0.0722*float64(c.B)) / 255
}

// SavePNG draws the heatmap and writes it to path as a PNG.
func (hm *Heatmap) SavePNG(path string) error {
	img, err := hm.render()
	if err != nil {
		return fmt.Errorf("plot: heatmap %s: %w", path, err)
	}
	return img.save(path)
}

// scale returns the colour scale bounds.
func (hm *Heatmap) scale() (lo, hi float64, err error) {
	if math.IsNaN(hm.Min) || math.IsNaN(hm.Max) || math.IsInf(hm.Min, 0) || math.IsInf(hm.Max, 0) {
		return 0, 0, fmt.Errorf("colour scale [%g, %g] is not finite", hm.Min, hm.Max)
	}
	if hm.Min > hm.Max {
		return 0, 0, fmt.Errorf("colour scale Min %g > Max %g", hm.Min, hm.Max)
	}
	lo, hi = hm.Min, hm.Max
	if lo == 0 && hi == 0 {
		lo, hi = math.Inf(1), math.Inf(-1)
		for _, row := range hm.Values {
			for _, v := range row {
				if !math.IsNaN(v) {
					lo, hi = math.Min(lo, v), math.Max(hi, v)
				}
			}
		}
		if math.IsInf(lo, 1) {
			lo, hi = 0, 1
		}
	}
	if lo == hi {
		lo, hi = lo-0.5, hi+0.5
	}
	return lo, hi, nil
}

func (hm *Heatmap) render() (*canvas, error) {
	w, h, err := chartSize(hm.Width, hm.Height)
	if err != nil {
		return nil, err
	}
	rows := len(hm.Values)
	if rows == 0 {
		return nil, fmt.Errorf("no values")
	}
	cols := len(hm.Values[0])
	if cols == 0 {
		return nil, fmt.Errorf("row 0 is empty")
	}
	for i, row := range hm.Values {
		if len(row) != cols {
			return nil, fmt.Errorf("row %d has %d values, row 0 has %d", i, len(row), cols)
		}
		if err := checkValues(row, false, fmt.Sprintf("Values[%d]", i)); err != nil {
			return nil, err
		}
	}
	if len(hm.XTicks) != 0 && len(hm.XTicks) != cols {
		return nil, fmt.Errorf("%d XTicks for %d columns", len(hm.XTicks), cols)
	}
	if len(hm.YTicks) != 0 && len(hm.YTicks) != rows {
		return nil, fmt.Errorf("%d YTicks for %d rows", len(hm.YTicks), rows)
	}
	lo, hi, err := hm.scale()
	if err != nil {
		return nil, err
	}
	cv, err := newCanvas(w, h)
	if err != nil {
		return nil, err
	}
	// The colour bar's ticks, within [lo, hi].
	_, _, ticks, step := linearAxis(lo, hi, 6)
	var barTicks []float64
	var barText []string
	barTextW := 0
	for _, t := range ticks {
		if t >= lo-1e-9*(hi-lo) && t <= hi+1e-9*(hi-lo) {
			barTicks = append(barTicks, t)
			s := formatTick(t, step)
			barText = append(barText, s)
			barTextW = max(barTextW, textWidth(cv.regular, s))
		}
	}
	legendW := 18 + 6 + barTextW + 10
	// Row labels are drawn like y tick labels; column labels like x ticks.
	maxX := 0
	for _, s := range hm.XTicks {
		maxX = max(maxX, textWidth(cv.regular, s))
	}
	approxCell := (w - 2*pad - 80 - legendW) / cols
	rotate := maxX > approxCell-4
	extra := 0
	if rotate {
		extra = maxX - textHeight(cv.regular)
	}
	r := cv.frame(hm.Title, hm.XLabel, hm.YLabel, nil, hm.YTicks, extra, legendW)
	cw, ch := float64(r.Dx())/float64(cols), float64(r.Dy())/float64(rows)
	gap := 0
	if cw >= 8 && ch >= 8 {
		gap = 1
	}
	for i, row := range hm.Values {
		for j, v := range row {
			cell := image.Rect(
				r.Min.X+int(math.Round(float64(j)*cw)), r.Min.Y+int(math.Round(float64(i)*ch)),
				r.Min.X+int(math.Round(float64(j+1)*cw))-gap, r.Min.Y+int(math.Round(float64(i+1)*ch))-gap)
			col := missing
			if !math.IsNaN(v) {
				col = colorMap((v - lo) / (hi - lo))
			}
			cv.fill(cell, col)
			if hm.Annotate && !math.IsNaN(v) {
				s := formatValue(v)
				f := cv.regular
				if textWidth(f, s) > cell.Dx()-4 || textHeight(f) > cell.Dy() {
					f = cv.small
				}
				if textWidth(f, s) <= cell.Dx()-2 && textHeight(f) <= cell.Dy() {
					tc := color.RGBA{255, 255, 255, 255}
					if luminance(col) > 0.5 {
						tc = ink
					}
					cv.text(s, (cell.Min.X+cell.Max.X)/2, (cell.Min.Y+cell.Max.Y)/2, f, tc, alignCenter, alignMiddle)
				}
			}
		}
	}
	// Row labels, skipping some when rows are too thin for text.
	every := max(1, int(math.Ceil(float64(textHeight(cv.regular))/ch)))
	for i, s := range hm.YTicks {
		if i%every == 0 {
			y := r.Min.Y + int(math.Round((float64(i)+0.5)*ch))
			cv.text(s, r.Min.X-8, y, cv.regular, ink, alignRight, alignMiddle)
		}
	}
	every = 1
	if rotate {
		every = max(1, int(math.Ceil(float64(textHeight(cv.regular)+2)/cw)))
	}
	for j, s := range hm.XTicks {
		if j%every != 0 {
			continue
		}
		x := r.Min.X + int(math.Round((float64(j)+0.5)*cw))
		if rotate {
			cv.textUp(s, x, r.Max.Y+7, cv.regular, ink, alignRight, alignMiddle)
		} else {
			cv.text(s, x, r.Max.Y+7, cv.regular, ink, alignCenter, alignTop)
		}
	}
	// Colour bar.
	bar := image.Rect(r.Max.X+16, r.Min.Y, r.Max.X+34, r.Max.Y)
	for y := bar.Min.Y; y < bar.Max.Y; y++ {
		t := float64(bar.Max.Y-1-y) / float64(max(1, bar.Dy()-1))
		cv.fill(image.Rect(bar.Min.X, y, bar.Max.X, y+1), colorMap(t))
	}
	cv.rect(bar, axisColor)
	for k, t := range barTicks {
		y := bar.Max.Y - 1 - int(math.Round((t-lo)/(hi-lo)*float64(bar.Dy()-1)))
		cv.fill(image.Rect(bar.Max.X, y, bar.Max.X+4, y+1), axisColor)
		cv.text(barText[k], bar.Max.X+6, y, cv.regular, ink, alignLeft, alignMiddle)
	}
	return cv, nil
}
