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
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected arguments %q", fs.Args())
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

	var in io.Reader = env.Stdin
	inName := "stdin"
	var inSize int64
	if *input != "-" {
		f, err := paths.OpenRegular(*input)
		if err != nil {
			return fmt.Errorf("open input: %w", err)
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil {
			inSize = st.Size()
		}
		in, inName = f, *input
	}

	var out io.Writer = env.Stdout
	var af *atomicfile.File
	if *output != "-" {
		if af, err = atomicfile.Create(*output); err != nil {
			return err
		}
		defer af.Abort()
		out = af
	}
	bw := bufio.NewWriterSize(out, 1<<20)

	var bar *progress.Bar
	if progress.IsTerminal(env.Stderr) {
		bar = progress.New(env.Stderr, "tokenize", inSize, "bytes")
	}
	start := time.Now()
	st := tokenizeStats{}
	encode := func(texts []string, consumed int64) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		ids := tk.EncodeBatch(texts, *addSpecial)
		var line []byte
		for _, row := range ids {
			line = appendIDsLine(line[:0], row)
			if _, err := bw.Write(line); err != nil {
				return fmt.Errorf("write %s: %w", *output, err)
			}
			st.tokens += int64(len(row))
		}
		for _, t := range texts {
			st.bytes += int64(len(t))
		}
		st.docs += int64(len(texts))
		if bar != nil {
			bar.Add(consumed)
		}
		return nil
	}
	if *format == "text" {
		text, err := io.ReadAll(io.LimitReader(in, data.MaxDocumentBytes+1))
		if err != nil {
			return fmt.Errorf("read %s: %w", inName, err)
		}
		if len(text) > data.MaxDocumentBytes {
			return fmt.Errorf("%s: over the limit of %d bytes for one document", inName, data.MaxDocumentBytes)
		}
		err = encode([]string{string(text)}, int64(len(text)))
		if err != nil {
			return err
		}
	} else if err := readJSONLBatches(in, inName, *field, encode); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", *output, err)
	}
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx) // interrupted: publish nothing
	}
	if af != nil {
		if err := af.Commit(); err != nil {
			return err
		}
	}
	if bar != nil {
		bar.Finish()
	}
	el := time.Since(start)
	fmt.Fprintf(env.Stderr, "tokenize: %d documents, %d bytes, %d tokens in %.3fs (%.2f MB/s; tokenizer load %.3fs)\n",
		st.docs, st.bytes, st.tokens, el.Seconds(), float64(st.bytes)/1e6/el.Seconds(), loadTime.Seconds())
	return nil
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
