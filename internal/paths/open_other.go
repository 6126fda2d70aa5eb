//go:build !unix

package paths

import "os"

const openFlags = 0

func clearNonblock(*os.File) error { return nil }
