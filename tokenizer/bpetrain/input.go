package bpetrain

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/longrecipe/longrecipe/internal/paths"
)

// ReadTexts reads training texts from a file. A name ending in ".jsonl",
// ".json" or ".ndjson" (optionally followed by ".gz") holds one JSON object
// a line whose "text" field is one document (blank lines are skipped); any
// other file (optionally gzipped) is one document in UTF-8. Errors name the
// file and line.
func ReadTexts(path string) ([]string, error) {
	f, err := paths.OpenRegular(path)
	if err != nil {
		return nil, fmt.Errorf("read training texts: %w", err)
	}
	defer f.Close()
	var r io.Reader = f
	name := path
	if strings.HasSuffix(name, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("read training texts %s: %w", path, err)
		}
		defer zr.Close()
		r = zr
		name = strings.TrimSuffix(name, ".gz")
	}
	if !strings.HasSuffix(name, ".jsonl") && !strings.HasSuffix(name, ".json") && !strings.HasSuffix(name, ".ndjson") {
		data, err := io.ReadAll(r)
		if err != nil {
			return nil, fmt.Errorf("read training texts %s: %w", path, err)
		}
		if !utf8.Valid(data) {
			return nil, fmt.Errorf("read training texts %s: not valid UTF-8", path)
		}
		return []string{string(data)}, nil
	}
	var texts []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<20), 256<<20)
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var doc struct {
			Text *string `json:"text"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			return nil, fmt.Errorf("read training texts %s line %d: %w", path, line, err)
		}
		if doc.Text == nil {
			return nil, fmt.Errorf("read training texts %s line %d: no \"text\" field", path, line)
		}
		texts = append(texts, *doc.Text)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read training texts %s: %w", path, err)
	}
	return texts, nil
}
