// Package lines reads a text file line by line with a bound on the length
// of a line, for the JSONL readers of every command. A line over the bound
// is never held in memory: it is skipped to its end (counting its length in
// fixed-size chunks) and reported as a *TooLongError naming the file, the
// line and the length, so one 200 MB line costs a clear one-line error, not
// all of RAM.
//
// When the source can seek (a regular file), a line longer than the 64 KiB
// read buffer is measured first and read into a buffer of exactly its size
// afterwards, so nothing larger than the buffer is allocated before the
// length is known. From a pipe, a line is gathered as it comes, up to the
// bound.
package lines
