package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/longrecipe/longrecipe/internal/lock"
)

// Interrupts. The first SIGINT (Ctrl-C) or SIGTERM cancels the command's
// context with an *interrupt cause and says on stderr that a second one
// exits at once; the command stops at its next check (train saves a
// checkpoint first) and Main exits 128+signal whatever the command
// returned, so an interrupted run never looks successful. Reads of
// standard input go through interruptibleReader, so a command blocked on
// an idle pipe stops too. The second signal exits the process at once
// with the same code: temporary files are left behind under names that
// never look complete (".NAME.tmp-*").

// interrupt is the cancellation cause of an interrupted command.
type interrupt struct{ sig os.Signal }

func (i *interrupt) Error() string { return "interrupted by " + i.sig.String() }

// exitNow ends the process on a second signal; tests replace it.
var exitNow = os.Exit

// interruptContext returns the command's context and a function that
// stops listening for signals.
func interruptContext(stderr io.Writer, name string) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-sigs:
			cancel(&interrupt{sig})
			fmt.Fprintf(stderr, "longrecipe %s: %v: stopping (send it again to exit at once)\n", name, sig)
		case <-done:
			return
		}
		select {
		case sig := <-sigs:
			fmt.Fprintf(stderr, "longrecipe %s: %v again: exiting now\n", name, sig)
			lock.ReleaseAll() // deferred releases do not run on exit
			exitNow(signalExitCode(sig))
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel(nil)
	}
}

// interruptedBy returns the signal that interrupted ctx, or nil.
func interruptedBy(ctx context.Context) os.Signal {
	var i *interrupt
	if errors.As(context.Cause(ctx), &i) {
		return i.sig
	}
	return nil
}

// signalExitCode is the shell's code for death by sig: 128 + its number.
func signalExitCode(sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 130
}

// interruptibleReader wraps r so that a Read blocked on it returns as soon
// as ctx is cancelled (the underlying read is left to finish in the
// background and its data is dropped; every later Read fails).
func interruptibleReader(ctx context.Context, r io.Reader) io.Reader {
	if r == nil {
		return nil
	}
	return &ctxReader{ctx: ctx, r: r, res: make(chan readResult, 1)}
}

type readResult struct {
	n   int
	err error
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
	res chan readResult
	buf []byte
	err error // sticky, once interrupted
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if c.err == nil && c.ctx.Err() != nil {
		c.err = fmt.Errorf("read interrupted: %w", context.Cause(c.ctx))
	}
	if c.err != nil || len(p) == 0 {
		return 0, c.err
	}
	if cap(c.buf) < len(p) {
		c.buf = make([]byte, len(p))
	}
	buf := c.buf[:len(p)]
	go func() {
		n, err := c.r.Read(buf)
		c.res <- readResult{n, err}
	}()
	select {
	case r := <-c.res:
		return copy(p, buf[:r.n]), r.err
	case <-c.ctx.Done():
		c.err = fmt.Errorf("read interrupted: %w", context.Cause(c.ctx))
		return 0, c.err
	}
}
