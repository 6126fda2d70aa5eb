//go:build !unix

package lock

// alive cannot tell a stale lock apart on this system: every lock is
// treated as held, and a stale one is deleted by hand as its error says.
func alive(int) bool { return true }
