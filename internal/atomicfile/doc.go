// Package atomicfile writes files so that a reader (or a crash) never sees a
// partial file: data goes to a temporary file in the same directory, is
// synced, and is renamed over the destination.
package atomicfile
