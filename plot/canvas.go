package plot

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"sync"

	"github.com/longrecipe/longrecipe/internal/atomicfile"
	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// Default chart size in pixels, used when Width or Height is 0.
const (
	DefaultWidth  = 900
	DefaultHeight = 540
)

// Smallest and largest accepted chart sizes.
const (
	minWidth, minHeight = 240, 160
	maxSide             = 16384
)

var (
	background = color.RGBA{255, 255, 255, 255}
	ink        = color.RGBA{30, 30, 30, 255}
	gridColor  = color.RGBA{225, 225, 225, 255}
	axisColor  = color.RGBA{90, 90, 90, 255}
	missing    = color.RGBA{200, 200, 200, 255}
)

// palette is matplotlib's "tab10": ten colours that are easy to tell apart.
var palette = []color.RGBA{
	{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255},
	{148, 103, 189, 255}, {140, 86, 75, 255}, {227, 119, 194, 255}, {127, 127, 127, 255},
	{188, 189, 34, 255}, {23, 190, 207, 255},
}

// seriesColor returns the colour of series i: the palette first, then hues
// spaced by the golden angle.
func seriesColor(i int) color.RGBA {
	if i < len(palette) {
		return palette[i]
	}
	h := math.Mod(float64(i-len(palette))*0.618033988749895+0.1, 1)
	return hsv(h, 0.75, 0.8)
}

func hsv(h, s, v float64) color.RGBA {
	i := int(h * 6)
	f := h*6 - float64(i)
	p, q, t := v*(1-s), v*(1-f*s), v*(1-(1-f)*s)
	var r, g, b float64
	switch i % 6 {
	case 0:
		r, g, b = v, t, p
	case 1:
		r, g, b = q, v, p
	case 2:
		r, g, b = p, v, t
	case 3:
		r, g, b = p, q, v
	case 4:
		r, g, b = t, p, v
	default:
		r, g, b = v, p, q
	}
	return color.RGBA{uint8(r*255 + 0.5), uint8(g*255 + 0.5), uint8(b*255 + 0.5), 255}
}

var (
	fontOnce            sync.Once
	regularTTF, boldTTF *opentype.Font
	fontErr             error
)

// faces returns fresh font faces (a face is not safe for concurrent use, so
// every chart gets its own).
func faces() (regular, small, title font.Face, err error) {
	fontOnce.Do(func() {
		regularTTF, fontErr = opentype.Parse(goregular.TTF)
		if fontErr == nil {
			boldTTF, fontErr = opentype.Parse(gobold.TTF)
		}
	})
	if fontErr != nil {
		return nil, nil, nil, fmt.Errorf("plot: parse Go font: %w", fontErr)
	}
	mk := func(f *opentype.Font, size float64) (font.Face, error) {
		return opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull})
	}
	if regular, err = mk(regularTTF, 14); err != nil {
		return nil, nil, nil, fmt.Errorf("plot: font face: %w", err)
	}
	if small, err = mk(regularTTF, 12); err != nil {
		return nil, nil, nil, fmt.Errorf("plot: font face: %w", err)
	}
	if title, err = mk(boldTTF, 17); err != nil {
		return nil, nil, nil, fmt.Errorf("plot: font face: %w", err)
	}
	return regular, small, title, nil
}

// canvas is an RGBA image with the drawing operations the charts need.
type canvas struct {
	img                  *image.RGBA
	regular, small, bold font.Face
}

func newCanvas(w, h int) (*canvas, error) {
	reg, small, bold, err := faces()
	if err != nil {
		return nil, err
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.NewUniform(background), image.Point{}, draw.Src)
	return &canvas{img: img, regular: reg, small: small, bold: bold}, nil
}

// chartSize applies the defaults and bounds to a requested size.
func chartSize(w, h int) (int, int, error) {
	if w == 0 {
		w = DefaultWidth
	}
	if h == 0 {
		h = DefaultHeight
	}
	if w < minWidth || h < minHeight || w > maxSide || h > maxSide {
		return 0, 0, fmt.Errorf("plot: size %dx%d out of range (%dx%d to %dx%d, 0 = default)", w, h, minWidth, minHeight, maxSide, maxSide)
	}
	return w, h, nil
}

func (c *canvas) fill(r image.Rectangle, col color.Color) {
	draw.Draw(c.img, r.Intersect(c.img.Bounds()), image.NewUniform(col), image.Point{}, draw.Src)
}

// rect draws the outline of r, one pixel wide.
func (c *canvas) rect(r image.Rectangle, col color.Color) {
	c.fill(image.Rect(r.Min.X, r.Min.Y, r.Max.X, r.Min.Y+1), col)
	c.fill(image.Rect(r.Min.X, r.Max.Y-1, r.Max.X, r.Max.Y), col)
	c.fill(image.Rect(r.Min.X, r.Min.Y, r.Min.X+1, r.Max.Y), col)
	c.fill(image.Rect(r.Max.X-1, r.Min.Y, r.Max.X, r.Max.Y), col)
}

// line draws a segment of the given width (pixels), clipped to clip.
func (c *canvas) line(x0, y0, x1, y1 float64, width int, col color.Color, clip image.Rectangle) {
	dx, dy := x1-x0, y1-y0
	steps := int(math.Ceil(math.Max(math.Abs(dx), math.Abs(dy))))
	if steps < 1 {
		steps = 1
	}
	if steps > 1<<16 { // a segment longer than any chart: clipped anyway
		steps = 1 << 16
	}
	lo := -(width - 1) / 2
	for i := 0; i <= steps; i++ {
		f := float64(i) / float64(steps)
		x := int(math.Round(x0 + f*dx))
		y := int(math.Round(y0 + f*dy))
		c.fill(image.Rect(x+lo, y+lo, x+lo+width, y+lo+width).Intersect(clip), col)
	}
}

// marker draws a filled disc of radius r at (x, y), clipped to clip.
func (c *canvas) marker(x, y float64, r int, col color.Color, clip image.Rectangle) {
	cx, cy := int(math.Round(x)), int(math.Round(y))
	for j := -r; j <= r; j++ {
		for i := -r; i <= r; i++ {
			if i*i+j*j <= r*r+r/2 && image.Pt(cx+i, cy+j).In(clip) {
				c.img.SetRGBA(cx+i, cy+j, col.(color.RGBA))
			}
		}
	}
}

func textWidth(f font.Face, s string) int { return font.MeasureString(f, s).Ceil() }

func textHeight(f font.Face) int {
	m := f.Metrics()
	return (m.Ascent + m.Descent).Ceil()
}

// Horizontal and vertical text anchors.
const (
	alignLeft = iota
	alignCenter
	alignRight
)
const (
	alignTop = iota
	alignMiddle
	alignBottom
)

// text draws s with its anchor point (ha, va) at (x, y).
func (c *canvas) text(s string, x, y int, f font.Face, col color.Color, ha, va int) {
	w := textWidth(f, s)
	m := f.Metrics()
	switch ha {
	case alignCenter:
		x -= w / 2
	case alignRight:
		x -= w
	}
	asc, h := m.Ascent.Ceil(), textHeight(f)
	base := y + asc
	switch va {
	case alignMiddle:
		base = y - h/2 + asc
	case alignBottom:
		base = y - h + asc
	}
	d := font.Drawer{Dst: c.img, Src: image.NewUniform(col), Face: f, Dot: fixed.P(x, base)}
	d.DrawString(s)
}

// textUp draws s rotated 90° anticlockwise (reading bottom to top). (x, y)
// is the anchor in the rotated frame: ha applies along the vertical,
// va across it (alignTop = left edge of the glyphs' tops).
func (c *canvas) textUp(s string, x, y int, f font.Face, col color.Color, ha, va int) {
	w, h := textWidth(f, s), textHeight(f)
	if w <= 0 || h <= 0 {
		return
	}
	tmp := image.NewRGBA(image.Rect(0, 0, w, h))
	d := font.Drawer{Dst: tmp, Src: image.NewUniform(col), Face: f, Dot: fixed.P(0, f.Metrics().Ascent.Ceil())}
	d.DrawString(s)
	rot := image.NewRGBA(image.Rect(0, 0, h, w))
	for yy := 0; yy < h; yy++ {
		for xx := 0; xx < w; xx++ {
			rot.SetRGBA(yy, w-1-xx, tmp.RGBAAt(xx, yy))
		}
	}
	// Along the text (now vertical): ha.
	top := y - w // alignLeft: text starts at y and goes up
	switch ha {
	case alignCenter:
		top = y - w/2
	case alignRight:
		top = y
	}
	left := x
	switch va {
	case alignMiddle:
		left = x - h/2
	case alignBottom:
		left = x - h
	}
	draw.Draw(c.img, image.Rect(left, top, left+h, top+w), rot, image.Point{}, draw.Over)
}

// save encodes the canvas as PNG and writes it atomically to path.
func (c *canvas) save(path string) error {
	var buf bytes.Buffer
	if err := png.Encode(&buf, c.img); err != nil {
		return fmt.Errorf("plot: encode %s: %w", path, err)
	}
	if err := atomicfile.WriteFile(path, buf.Bytes()); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	return nil
}

// legendEntry is one line of a legend.
type legendEntry struct {
	name string
	col  color.RGBA
}

const swatch = 22 // legend swatch width

// legendWidth is the width the legend needs (0 for no legend).
func (c *canvas) legendWidth(entries []legendEntry) int {
	w := 0
	for _, e := range entries {
		if tw := textWidth(c.regular, e.name); tw > w {
			w = tw
		}
	}
	if w == 0 {
		return 0
	}
	return w + swatch + 22
}

// legend draws entries top-down from (x, y), each with a swatch drawn by
// bar (a filled square) or as a thick line.
func (c *canvas) legend(entries []legendEntry, x, y int, bar bool) {
	lh := textHeight(c.regular) + 6
	for i, e := range entries {
		cy := y + i*lh + lh/2
		if bar {
			c.fill(image.Rect(x, cy-6, x+swatch, cy+6), e.col)
		} else {
			c.fill(image.Rect(x, cy-1, x+swatch, cy+2), e.col)
			c.marker(float64(x+swatch/2), float64(cy), 3, e.col, c.img.Bounds())
		}
		c.text(e.name, x+swatch+6, cy, c.regular, ink, alignLeft, alignMiddle)
	}
}
