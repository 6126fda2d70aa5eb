package progress

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// clock is a settable time source.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newTestBar(tty bool, total int64) (*Bar, *bytes.Buffer, *clock) {
	var buf bytes.Buffer
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	b := New(&buf, "train", total, "steps")
	b.tty, b.now, b.start = tty, c.now, c.t
	return b, &buf, c
}

func TestLine(t *testing.T) {
	tests := []struct {
		name  string
		total int64
		done  int64
		extra string
		secs  float64
		want  string
	}{
		{"half with ETA", 100, 50, "", 5, "train [============            ]  50.0% 50/100 steps 10 steps/s ETA 5s"},
		{"done, no ETA", 100, 100, "loss 2.31", 10, "train [========================] 100.0% 100/100 steps 10 steps/s loss 2.31"},
		{"over total capped", 10, 20, "", 1, "train [========================] 100.0% 20/10 steps 20 steps/s"},
		{"unknown total", 0, 12345, "", 2, "train 12.3k steps 6172.50 steps/s"},
		{"nothing yet", 100, 0, "", 0, "train [                        ]   0.0% 0/100 steps 0 steps/s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, _, c := newTestBar(false, tc.total)
			b.done, b.extra = tc.done, tc.extra
			c.t = c.t.Add(time.Duration(tc.secs * float64(time.Second)))
			if got := b.line(c.t); got != tc.want {
				t.Errorf("line\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestHuman(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{{0, "0"}, {999, "999"}, {9999, "9999"}, {10000, "10.0k"}, {2.5e6, "2.50M"}, {3.25e9, "3.25G"}, {1.5, "1.50"}} {
		if got := human(tc.v); got != tc.want {
			t.Errorf("human(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

// TestNotTerminalSilentUntilFinish: a log or pipe gets one summary line,
// once, however many updates there were.
func TestNotTerminalSilentUntilFinish(t *testing.T) {
	b, buf, c := newTestBar(false, 4)
	for range 4 {
		c.t = c.t.Add(time.Second)
		b.Add(1)
	}
	b.SetExtra("loss 1.00")
	if buf.Len() != 0 {
		t.Fatalf("wrote before Finish: %q", buf.String())
	}
	b.Finish()
	b.Finish()
	want := "train [========================] 100.0% 4/4 steps 1 steps/s loss 1.00 in 4s\n"
	if buf.String() != want {
		t.Errorf("got %q\nwant %q", buf.String(), want)
	}
	if r := b.Rate(); r != 1 {
		t.Errorf("rate %v", r)
	}
}

// TestTerminalRedrawThrottled: on a terminal the line is redrawn in place
// at most every 100 ms, and Finish ends it with a newline.
func TestTerminalRedrawThrottled(t *testing.T) {
	b, buf, c := newTestBar(true, 100)
	c.t = c.t.Add(time.Second)
	b.Add(10) // drawn: the last draw is the zero time
	c.t = c.t.Add(50 * time.Millisecond)
	b.Add(10) // within 100 ms: not drawn
	c.t = c.t.Add(60 * time.Millisecond)
	b.Set(50, 0, "") // drawn
	out := buf.String()
	if n := strings.Count(out, "\r"); n != 2 {
		t.Errorf("%d redraws, want 2: %q", n, out)
	}
	if !strings.Contains(out, "10/100") || strings.Contains(out, "20/100") || !strings.Contains(out, "50/100") || !strings.Contains(out, "\x1b[K") {
		t.Errorf("output %q", out)
	}
	b.Finish()
	if !strings.HasSuffix(buf.String(), " in 1.11s\x1b[K\n") {
		t.Errorf("finish %q", buf.String())
	}
}

func TestIsTerminal(t *testing.T) {
	if IsTerminal(&bytes.Buffer{}) {
		t.Error("a buffer is a terminal")
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if IsTerminal(f) {
		t.Error("a regular file is a terminal")
	}
}
