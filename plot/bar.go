package plot

import (
	"fmt"
	"image"
	"math"
)

// BarChart draws one group of bars per category, one bar per series (or
// one stacked bar per category when Stacked).
type BarChart struct {
	Title, XLabel, YLabel string
	Categories            []string
	// Series[i].Y[j] is the value of series i for category j; X is
	// ignored. NaN draws no bar.
	Series []Series
	// Stacked stacks the series' positive values upwards and negative
	// values downwards from zero.
	Stacked bool
	// Width and Height in pixels; 0 means 900×540.
	Width, Height int
}

// SavePNG draws the chart and writes it to path as a PNG.
func (c *BarChart) SavePNG(path string) error {
	img, err := c.render()
	if err != nil {
		return fmt.Errorf("plot: bar chart %s: %w", path, err)
	}
	return img.save(path)
}

func (c *BarChart) render() (*canvas, error) {
	w, h, err := chartSize(c.Width, c.Height)
	if err != nil {
		return nil, err
	}
	n := len(c.Categories)
	if n == 0 {
		return nil, fmt.Errorf("no categories")
	}
	if len(c.Series) == 0 {
		return nil, fmt.Errorf("no series")
	}
	lo, hi := 0.0, 0.0
	pos, neg := make([]float64, n), make([]float64, n)
	haveData := false
	for i, s := range c.Series {
		if len(s.Y) != n {
			return nil, fmt.Errorf("series %d %q: %d values for %d categories", i, s.Name, len(s.Y), n)
		}
		if err := checkValues(s.Y, false, fmt.Sprintf("series %d %q: Y", i, s.Name)); err != nil {
			return nil, err
		}
		for j, v := range s.Y {
			if math.IsNaN(v) {
				continue
			}
			haveData = true
			if c.Stacked {
				if v >= 0 {
					pos[j] += v
				} else {
					neg[j] += v
				}
				lo, hi = math.Min(lo, neg[j]), math.Max(hi, pos[j])
			} else {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	cv, err := newCanvas(w, h)
	if err != nil {
		return nil, err
	}
	if lo == 0 && hi == 0 {
		hi = 1
	}
	ya := newAxis(lo, hi, true, false, 7)
	var entries []legendEntry
	if len(c.Series) > 1 || c.Series[0].Name != "" {
		for i, s := range c.Series {
			name := s.Name
			if name == "" {
				name = fmt.Sprintf("series %d", i+1)
			}
			entries = append(entries, legendEntry{name, seriesColor(i)})
		}
	}
	// Category labels: horizontal when they fit, else rotated.
	maxLab := 0
	for _, s := range c.Categories {
		maxLab = max(maxLab, textWidth(cv.regular, s))
	}
	legendW := cv.legendWidth(entries)
	approxSlot := (w - 2*pad - 80 - legendW) / n
	rotate := maxLab > approxSlot-6
	extra := 0
	if rotate {
		extra = maxLab - textHeight(cv.regular)
	}
	r := cv.frame(c.Title, c.XLabel, c.YLabel, nil, ya.tickText, extra, legendW)
	ya.p0, ya.p1 = float64(r.Max.Y-1), float64(r.Min.Y)
	cv.grid(r, nil, ya)
	slot := float64(r.Dx()) / float64(n)
	every := 1
	if rotate {
		every = int(math.Ceil(float64(textHeight(cv.regular)+2) / slot))
	}
	for j, s := range c.Categories {
		cx := int(math.Round(float64(r.Min.X) + (float64(j)+0.5)*slot))
		cv.fill(image.Rect(cx, r.Max.Y, cx+1, r.Max.Y+5), axisColor)
		if j%every != 0 {
			continue
		}
		if rotate {
			cv.textUp(s, cx, r.Max.Y+7, cv.regular, ink, alignRight, alignMiddle)
		} else {
			cv.text(s, cx, r.Max.Y+7, cv.regular, ink, alignCenter, alignTop)
		}
	}
	zero := ya.pix(0)
	clip := r.Inset(1)
	ns := len(c.Series)
	for j := 0; j < n; j++ {
		x0 := float64(r.Min.X) + float64(j)*slot
		up, down := 0.0, 0.0
		for i, s := range c.Series {
			v := s.Y[j]
			if math.IsNaN(v) || v == 0 {
				continue
			}
			var bx0, bx1, y0, y1 float64
			if c.Stacked {
				bx0, bx1 = x0+0.2*slot, x0+0.8*slot
				if v > 0 {
					y0, y1 = ya.pix(up), ya.pix(up+v)
					up += v
				} else {
					y0, y1 = ya.pix(down), ya.pix(down+v)
					down += v
				}
			} else {
				bw := 0.8 * slot / float64(ns)
				bx0 = x0 + 0.1*slot + float64(i)*bw
				bx1 = bx0 + bw
				if ns > 1 && bw > 6 {
					bx1-- // a thin gap between neighbouring bars
				}
				y0, y1 = zero, ya.pix(v)
			}
			top, bot := math.Min(y0, y1), math.Max(y0, y1)
			rect := image.Rect(int(math.Round(bx0)), int(math.Round(top)), int(math.Round(bx1)), int(math.Round(bot)))
			if rect.Dx() < 1 {
				rect.Max.X = rect.Min.X + 1
			}
			if rect.Dy() < 1 {
				rect.Max.Y = rect.Min.Y + 1
			}
			cv.fill(rect.Intersect(clip), seriesColor(i))
		}
	}
	if lo < 0 {
		zy := int(math.Round(zero))
		cv.fill(image.Rect(r.Min.X, zy, r.Max.X, zy+1), axisColor)
	}
	if !haveData {
		cv.text("no data", (r.Min.X+r.Max.X)/2, (r.Min.Y+r.Max.Y)/2, cv.regular, axisColor, alignCenter, alignMiddle)
	}
	if len(entries) > 0 {
		cv.legend(entries, r.Max.X+14, r.Min.Y, true)
	}
	return cv, nil
}
