package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Bar reports progress towards Total units (Total 0 = unknown).
type Bar struct {
	mu       sync.Mutex
	w        io.Writer
	tty      bool
	label    string
	unit     string
	total    int64
	done     int64
	extra    string
	start    time.Time
	last     time.Time
	finished bool
	now      func() time.Time
}

// IsTerminal reports whether w is a character device (a terminal).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// New returns a bar writing to w. unit names what is counted ("tokens",
// "steps", "MB").
func New(w io.Writer, label string, total int64, unit string) *Bar {
	return &Bar{w: w, tty: IsTerminal(w), label: label, unit: unit, total: total, start: time.Now(), now: time.Now}
}

// Add records n more units done.
func (b *Bar) Add(n int64) { b.Set(-1, n, "") }

// SetExtra sets free text shown after the rate (e.g. "loss 2.31").
func (b *Bar) SetExtra(s string) {
	b.mu.Lock()
	b.extra = s
	b.mu.Unlock()
	b.Set(-1, 0, "")
}

// Set sets the absolute count (done >= 0) or adds delta, then redraws at
// most ten times a second.
func (b *Bar) Set(done, delta int64, _ string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if done >= 0 {
		b.done = done
	}
	b.done += delta
	t := b.now()
	if !b.tty || t.Sub(b.last) < 100*time.Millisecond {
		return
	}
	b.last = t
	fmt.Fprintf(b.w, "\r%s\x1b[K", b.line(t))
}

// Rate returns units per second since the start.
func (b *Bar) Rate() float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.rate(b.now())
}

func (b *Bar) rate(t time.Time) float64 {
	s := t.Sub(b.start).Seconds()
	if s <= 0 {
		return 0
	}
	return float64(b.done) / s
}

func (b *Bar) line(t time.Time) string {
	var sb strings.Builder
	sb.WriteString(b.label)
	r := b.rate(t)
	if b.total > 0 {
		frac := float64(b.done) / float64(b.total)
		if frac > 1 {
			frac = 1
		}
		const width = 24
		n := int(frac * width)
		fmt.Fprintf(&sb, " [%s%s] %5.1f%% %s/%s %s", strings.Repeat("=", n), strings.Repeat(" ", width-n), 100*frac, human(float64(b.done)), human(float64(b.total)), b.unit)
	} else {
		fmt.Fprintf(&sb, " %s %s", human(float64(b.done)), b.unit)
	}
	fmt.Fprintf(&sb, " %s %s/s", human(r), b.unit)
	if b.total > 0 && r > 0 && b.done < b.total {
		eta := time.Duration(float64(b.total-b.done) / r * float64(time.Second)).Round(time.Second)
		fmt.Fprintf(&sb, " ETA %s", eta)
	}
	if b.extra != "" {
		sb.WriteString(" ")
		sb.WriteString(b.extra)
	}
	return sb.String()
}

// Finish prints the final line (also when not a terminal).
func (b *Bar) Finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return
	}
	b.finished = true
	t := b.now()
	elapsed := t.Sub(b.start).Round(time.Millisecond)
	if b.tty {
		fmt.Fprintf(b.w, "\r%s in %s\x1b[K\n", b.line(t), elapsed)
		return
	}
	fmt.Fprintf(b.w, "%s in %s\n", b.line(t), elapsed)
}

func human(v float64) string {
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.2fG", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.1fk", v/1e3)
	case v == float64(int64(v)):
		return fmt.Sprintf("%d", int64(v))
	default:
		return fmt.Sprintf("%.2f", v)
	}
}
