// Package progress draws a one-line progress bar with rate and ETA on a
// terminal. When the output is not a terminal it stays silent, except for
// the final summary line, so logs and pipes are not flooded.
package progress
