// Package lock keeps two commands from writing one output at once.
//
// A lock is a small file beside the output, ".NAME.lock" in the output's
// parent folder (the output resolved, symbolic links included, so two
// spellings of one folder share one lock), holding the holder's process
// id, host and start time. It lives beside the output, not inside it, so
// that it survives a command replacing the whole folder and never makes
// an empty output look non-empty.
//
//   - Take creates the file with O_CREATE|O_EXCL: of any number of
//     processes only one succeeds; the others fail at once with
//     "OUTPUT is locked by pid N on HOST (since T)".
//   - An output inside a locked folder is locked too: Take fails while a
//     live holder has the lock of any folder above the output (a train
//     into a stage folder of a recipe that is running).
//   - A lock whose holder is gone (same host, no process with that pid:
//     a run killed with kill -9) is stale: Take takes it over and says so
//     through its note callback. A lock held on another host is never
//     taken over; its error says to delete the file if that run is over.
//   - Release removes the file if it is still this holder's. The command
//     layer releases its locks on return and on the second Ctrl-C/SIGTERM
//     (ReleaseAll), so only a killed process leaves a lock behind.
package lock

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/longrecipe/longrecipe/internal/paths"
)

// Holder is the content of a lock file.
type Holder struct {
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	Since   time.Time `json:"since"`
	Command string    `json:"command,omitempty"`
}

// Lock is a held lock.
type Lock struct {
	path   string
	holder Holder
	// made are the missing parent folders Take created (deepest first),
	// removed again by Release if still empty: a command that fails leaves
	// no trace.
	made []string
	once sync.Once
}

// Path returns the lock file of output: .NAME.lock beside the output once
// resolved.
func Path(output string) (string, error) {
	r, err := paths.Resolve(output)
	if err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(r), "."+filepath.Base(r)+".lock"), nil
}

// held are the locks this process holds, for ReleaseAll.
var held = struct {
	sync.Mutex
	m map[*Lock]bool
}{m: map[*Lock]bool{}}

// attempts bounds the loop of Take: each round either takes the lock,
// finds a live holder, removes a stale lock (another process may create
// its own before this one does), or waits for another process taking a
// stale lock over.
const attempts = 100

// Take locks output for command (a name for the lock file, e.g.
// "longrecipe run"). note, when not nil, receives one line when a stale
// lock is taken over.
func Take(output, command string, note func(string)) (*Lock, error) {
	l, made, err := take(output, command, note)
	if err != nil {
		removeEmpty(made)
	}
	return l, err
}

func take(output, command string, note func(string)) (*Lock, []string, error) {
	path, err := Path(output)
	if err != nil {
		return nil, nil, fmt.Errorf("lock %s: %w", output, err)
	}
	host, err := os.Hostname()
	if err != nil {
		return nil, nil, fmt.Errorf("lock %s: %w", output, err)
	}
	me := Holder{PID: os.Getpid(), Host: host, Since: time.Now().UTC().Truncate(time.Second), Command: command}
	if err := checkAbove(output, path, host); err != nil {
		return nil, nil, err
	}
	made, err := mkdirs(filepath.Dir(path))
	if err != nil {
		return nil, made, fmt.Errorf("lock %s: %w", output, err)
	}
	for range attempts {
		ok, err := create(path, me)
		if err != nil {
			return nil, made, fmt.Errorf("lock %s: %w", output, err)
		}
		if ok {
			l := &Lock{path: path, holder: me, made: made}
			held.Lock()
			held.m[l] = true
			held.Unlock()
			return l, nil, nil
		}
		h, err := read(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue // released meanwhile: try again
		case err != nil:
			return nil, made, fmt.Errorf("lock %s: %s: %w (delete it if no command is writing %s)", output, path, err, output)
		case h.Host != host || alive(h.PID):
			return nil, made, fmt.Errorf("%s is locked by pid %d on %s since %s (%s; delete it if that command is no longer running)",
				output, h.PID, h.Host, h.Since.Format(time.RFC3339), path)
		}
		removed, busy, err := takeOver(path, h, me)
		if err != nil {
			return nil, made, fmt.Errorf("lock %s: %w", output, err)
		}
		if busy {
			time.Sleep(time.Millisecond)
			continue
		}
		if removed && note != nil {
			note(fmt.Sprintf("%s: took over the stale lock of pid %d on %s (that process is gone)", output, h.PID, h.Host))
		}
	}
	return nil, made, fmt.Errorf("lock %s: %s keeps changing hands; is another command starting on it?", output, path)
}

// checkAbove fails when a folder above the output (whose lock file is
// path) is locked by a live holder. Stale locks there are left alone.
func checkAbove(output, path, host string) error {
	for d := filepath.Dir(path); filepath.Dir(d) != d; d = filepath.Dir(d) {
		p := filepath.Join(filepath.Dir(d), "."+filepath.Base(d)+".lock")
		b, err := os.ReadFile(p)
		if err != nil {
			continue // none: not a holder
		}
		h, err := parse(b)
		if err != nil {
			continue // not a lock file (or one being written): not a holder
		}
		if h.Host != host || alive(h.PID) {
			return fmt.Errorf("%s is inside %s, which is locked by pid %d on %s since %s (%s; delete it if that command is no longer running)",
				output, d, h.PID, h.Host, h.Since.Format(time.RFC3339), p)
		}
	}
	return nil
}

// mkdirs creates dir and its missing parents, and returns the folders it
// created, deepest first.
func mkdirs(dir string) ([]string, error) {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil || filepath.Dir(d) == d {
			break
		}
		missing = append(missing, d)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return missing, nil
}

// removeEmpty removes the folders, deepest first, while they are empty.
func removeEmpty(dirs []string) {
	for _, d := range dirs {
		if os.Remove(d) != nil {
			return
		}
	}
}

// create makes the lock file with O_EXCL; false when it exists.
func create(path string, h Holder) (bool, error) {
	b, err := json.Marshal(h)
	if err != nil {
		return false, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	_, werr := f.Write(append(b, '\n'))
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(path)
		return false, err
	}
	return true, nil
}

// read returns the holder in a lock file. A file another process has
// created but not yet written is read again a few times.
func read(path string) (Holder, error) {
	var h Holder
	for i := range 50 {
		b, err := paths.ReadRegular(path)
		if err != nil {
			return h, err
		}
		if len(b) > 0 && b[len(b)-1] == '\n' {
			return parse(b)
		}
		time.Sleep(time.Duration(i+1) * time.Millisecond)
	}
	return h, fmt.Errorf("lock file is incomplete")
}

// parse reads the holder in the content of a lock file.
func parse(b []byte) (Holder, error) {
	var h Holder
	if err := json.Unmarshal(b, &h); err != nil || h.PID <= 0 {
		return Holder{}, fmt.Errorf("not a lock file (want {\"pid\":N,\"host\":...})")
	}
	return h, nil
}

// takeOver removes the stale lock file at path, held by h. Removal is
// serialised by a guard file (path+".takeover", created with O_EXCL and
// held for the few system calls between reading the lock again and
// removing it): while the guard is held no other process can replace the
// lock file (creating fails while it exists, and removing needs the
// guard), so the file removed is the stale one read. removed says whether
// this call removed it; busy, that another process holds the guard (the
// caller tries again).
func takeOver(path string, h, me Holder) (removed, busy bool, err error) {
	guard := path + ".takeover"
	ok, err := create(guard, me)
	if err != nil {
		return false, false, err
	}
	if !ok {
		g, gerr := read(guard)
		if gerr == nil && g.Host == me.Host && !alive(g.PID) {
			return false, false, fmt.Errorf("%s is left by pid %d, which is gone: delete it", guard, g.PID)
		}
		return false, true, nil
	}
	defer os.Remove(guard)
	cur, err := read(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, false, nil
	case err != nil:
		return false, false, err
	case !same(cur, h):
		return false, false, nil // taken over already: the caller finds the new holder
	}
	return true, false, os.Remove(path)
}

func same(a, b Holder) bool {
	return a.PID == b.PID && a.Host == b.Host && a.Since.Equal(b.Since) && a.Command == b.Command
}

// Release removes the lock file if it still holds this lock. It is safe to
// call more than once.
func (l *Lock) Release() error {
	if l == nil {
		return nil
	}
	var err error
	l.once.Do(func() {
		held.Lock()
		delete(held.m, l)
		held.Unlock()
		h, rerr := read(l.path)
		if rerr != nil || !same(h, l.holder) {
			return // taken over or removed by hand: not ours to remove
		}
		err = os.Remove(l.path)
		removeEmpty(l.made)
	})
	return err
}

// ReleaseAll releases every lock this process holds (before an exit that
// skips deferred calls).
func ReleaseAll() {
	held.Lock()
	ls := make([]*Lock, 0, len(held.m))
	for l := range held.m {
		ls = append(ls, l)
	}
	held.Unlock()
	for _, l := range ls {
		l.Release()
	}
}
