package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/longrecipe/longrecipe/data"
	"github.com/longrecipe/longrecipe/internal/atomicfile"
	"github.com/longrecipe/longrecipe/internal/lines"
	"github.com/longrecipe/longrecipe/internal/paths"
	"github.com/longrecipe/longrecipe/internal/progress"
	"github.com/longrecipe/longrecipe/tokenizer"
)

func init() {
	register(&command{
		name:    "tokenize",
		summary: "encode JSONL or text documents to token ids with a tokenizer.json",
		run:     runTokenize,
	})
}

const tokenizeUsage = "tokenize --tokenizer FILE [--input F|-] [--output F|-] [--text-field text] [--format jsonl|text] [--add-special-tokens]"

// Batches are bounded in rows and bytes so memory stays bounded on any
// input size; each batch is encoded on all cores.
const (
	tokenizeBatchRows  = 1024
	tokenizeBatchBytes = 32 << 20
)

func runTokenize(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "tokenize", tokenizeUsage,
		"Encodes documents with a Hugging Face tokenizer.json (ids identical to HF tokenizers).\n"+
			"jsonl: one JSON object per input line, the document in --text-field; blank lines are skipped.\n"+
			"text: the whole input is one document.\n"+
			"Output: one line {\"input_ids\": [...]} per document, in input order. A summary line goes to\n"+
			"stderr, and a progress bar when stderr is a terminal.")
	tokPath := fs.String("tokenizer", "", "tokenizer.json file (required)")
	input := fs.String("input", "-", "input file, - for stdin")
	output := fs.String("output", "-", "output JSONL file (written atomically), - for stdout")
	force := fs.Bool("force", false, "replace an existing output file")
	field := fs.String("text-field", "text", "JSONL field holding the document text")
	format := fs.String("format", "jsonl", "input format: jsonl or text")
	addSpecial := fs.Bool("add-special-tokens", false, "add the post-processor's special tokens (e.g. BOS)")
	if err := parseOnlyFlags(fs, args); err != nil {
		return err
	}
	if *tokPath == "" {
		return usageErrorf("--tokenizer is required")
	}
	if *format != "jsonl" && *format != "text" {
		return usageErrorf("--format %q: want jsonl or text", *format)
	}
	if err := checkWrite("tokenize", *output, *force, *input, *tokPath); err != nil {
		return err
	}
	loadStart := time.Now()
	tk, err := tokenizer.Load(*tokPath)
	if err != nil {
		return err
	}
	loadTime := time.Since(loadStart)
	start := time.Now()
	tj := tokenizeJob{tk: tk, addSpecial: *addSpecial, field: *field, text: *format == "text", output: *output}
	st, err := tj.runFiles(ctx, env, *input)
	if err != nil {
		return err
	}
	el := time.Since(start)
	fmt.Fprintf(env.Stderr, "tokenize: %d documents, %d bytes, %d tokens in %.3fs (%.2f MB/s; tokenizer load %.3fs)\n",
		st.docs, st.bytes, st.tokens, el.Seconds(), float64(st.bytes)/1e6/el.Seconds(), loadTime.Seconds())
	return nil
}

// tokenizeInput opens --input: a regular file, or stdin for "-"; it
// returns the reader, its name and size (0 when unknown) and a close
// function.
func tokenizeInput(env *Env, input string) (io.Reader, string, int64, func(), error) {
	if input == "-" {
		return env.Stdin, "stdin", 0, func() {}, nil
	}
	f, err := paths.OpenRegular(input)
	if err != nil {
		return nil, "", 0, nil, fmt.Errorf("open input: %w", err)
	}
	var size int64
	if st, err := f.Stat(); err == nil {
		size = st.Size()
	}
	return f, input, size, func() { f.Close() }, nil
}

// tokenizeOutput opens --output for an atomic write (nil file for "-":
// stdout).
func tokenizeOutput(env *Env, output string) (io.Writer, *atomicfile.File, error) {
	if output == "-" {
		return env.Stdout, nil, nil
	}
	af, err := atomicfile.Create(output)
	if err != nil {
		return nil, nil, err
	}
	return af, af, nil
}

// tokenizeJob encodes the documents of one input.
type tokenizeJob struct {
	tk         *tokenizer.Tokenizer
	addSpecial bool
	field      string // the JSONL text field
	text       bool   // the whole input is one document
	output     string // for messages
	bar        *progress.Bar
}

// run encodes in's documents in batches on all cores and writes one
// {"input_ids": [...]} line per document to out, in input order, and
// finishes the bar. An interrupted run returns the interruption, never a
// short output.
func (t *tokenizeJob) run(ctx context.Context, in io.Reader, inName string, out io.Writer) (tokenizeStats, error) {
	bw := bufio.NewWriterSize(out, 1<<20)
	var st tokenizeStats
	encode := func(texts []string, consumed int64) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		var line []byte
		for _, row := range t.tk.EncodeBatch(texts, t.addSpecial) {
			line = appendIDsLine(line[:0], row)
			if _, err := bw.Write(line); err != nil {
				return fmt.Errorf("write %s: %w", t.output, err)
			}
			st.tokens += int64(len(row))
		}
		for _, s := range texts {
			st.bytes += int64(len(s))
		}
		st.docs += int64(len(texts))
		if t.bar != nil {
			t.bar.Add(consumed)
		}
		return nil
	}
	var err error
	if t.text {
		err = encodeWhole(in, inName, encode)
	} else {
		err = readJSONLBatches(in, inName, t.field, encode)
	}
	if err != nil {
		return st, err
	}
	if err := bw.Flush(); err != nil {
		return st, fmt.Errorf("write %s: %w", t.output, err)
	}
	if err := ctx.Err(); err != nil {
		return st, context.Cause(ctx) // interrupted: publish nothing
	}
	if t.bar != nil {
		t.bar.Finish()
	}
	return st, nil
}

// encodeWhole reads all of in (at most data.MaxDocumentBytes) as one
// document and encodes it.
func encodeWhole(in io.Reader, inName string, encode func(texts []string, consumed int64) error) error {
	text, err := io.ReadAll(io.LimitReader(in, data.MaxDocumentBytes+1))
	if err != nil {
		return fmt.Errorf("read %s: %w", inName, err)
	}
	if len(text) > data.MaxDocumentBytes {
		return fmt.Errorf("%s: over the limit of %d bytes for one document", inName, data.MaxDocumentBytes)
	}
	return encode([]string{string(text)}, int64(len(text)))
}

type tokenizeStats struct{ docs, bytes, tokens int64 }

// appendIDsLine appends {"input_ids": [..]}\n.
func appendIDsLine(dst []byte, ids []int32) []byte {
	dst = append(dst, `{"input_ids": [`...)
	for i, id := range ids {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		dst = strconv.AppendInt(dst, int64(id), 10)
	}
	return append(dst, "]}\n"...)
}

// readJSONLBatches reads JSONL rows from r and calls flush with batches of
// document texts (bounded in rows and bytes) and the input bytes consumed.
// A row that is not a JSON object with a string field is an error naming
// the line.
func readJSONLBatches(r io.Reader, name, field string, flush func(texts []string, consumed int64) error) error {
	lr := lines.New(r, name, data.MaxDocumentBytes)
	var texts []string
	var size, consumed int64
	for {
		line, err := lr.Next()
		if err != nil && err != io.EOF {
			return err // names the file and line (and the length of an over-long line)
		}
		if err == nil {
			consumed += int64(len(line)) + 1
		}
		if trimmed := bytes.TrimSpace(line); len(trimmed) > 0 {
			text, perr := rowText(trimmed, field)
			if perr != nil {
				return fmt.Errorf("%s line %d: %v", name, lr.Line(), perr)
			}
			texts = append(texts, text)
			size += int64(len(text))
		}
		if len(texts) > 0 && (len(texts) >= tokenizeBatchRows || size >= tokenizeBatchBytes || err == io.EOF) {
			if ferr := flush(texts, consumed); ferr != nil {
				return ferr
			}
			texts, size, consumed = texts[:0], 0, 0
		}
		if err == io.EOF {
			return nil
		}
	}
}

func rowText(line []byte, field string) (string, error) {
	var row map[string]json.RawMessage
	if err := json.Unmarshal(line, &row); err != nil || row == nil {
		return "", fmt.Errorf("not a JSON object")
	}
	raw, ok := row[field]
	if !ok {
		return "", fmt.Errorf("no field %q", field)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("field %q is not a string", field)
	}
	return s, nil
}

// runFiles runs the job from the input file (- for stdin) to t.output
// (- for stdout; a file is written atomically), with a progress bar when
// stderr is a terminal.
func (t *tokenizeJob) runFiles(ctx context.Context, env *Env, input string) (tokenizeStats, error) {
	in, inName, inSize, closeIn, err := tokenizeInput(env, input)
	if err != nil {
		return tokenizeStats{}, err
	}
	defer closeIn()
	out, af, err := tokenizeOutput(env, t.output)
	if err != nil {
		return tokenizeStats{}, err
	}
	if af != nil {
		defer af.Abort()
	}
	if progress.IsTerminal(env.Stderr) {
		t.bar = progress.New(env.Stderr, "tokenize", inSize, "bytes")
	}
	st, err := t.run(ctx, in, inName, out)
	if err != nil {
		return st, err
	}
	if af != nil {
		if err := af.Commit(); err != nil {
			return st, err
		}
	}
	return st, nil
}
