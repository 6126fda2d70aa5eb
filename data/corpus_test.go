package data

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// readAll decodes every document of a corpus.
func readAll(t *testing.T, path string, opts CorpusOptions) ([]Document, error) {
	t.Helper()
	c, err := OpenCorpus(path, opts)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var docs []Document
	for {
		d, err := c.Next()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return docs, err
		}
		if err := d.Decode(); err != nil {
			return docs, err
		}
		d.raw, d.opts = nil, nil
		docs = append(docs, d)
	}
}

func TestCorpusJSONLAndText(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "c", "sub"), 0o755)
	os.MkdirAll(filepath.Join(dir, "c", ".hidden"), 0o755)
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, "c", name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("b.jsonl", "{\"text\": \"hello\"}\n\n{\"input_ids\": [1, 2, 3], \"text\": \"ignored\"}\n{\"body\": \"x\", \"meta\": 1}")
	write("a.txt", "plain document\nwith two lines")
	write("sub/c.txt", "third")
	write(".hidden/skip.txt", "never read")
	write(".dot.txt", "never read")
	docs, err := readAll(t, filepath.Join(dir, "c"), CorpusOptions{})
	if err == nil || !strings.Contains(err.Error(), `b.jsonl:4: neither "text" nor "input_ids"`) {
		t.Fatalf("error %v, want one naming b.jsonl:4", err)
	}
	want := []Document{
		{Source: filepath.Join(dir, "c", "a.txt"), Text: "plain document\nwith two lines"},
		{Source: filepath.Join(dir, "c", "b.jsonl") + ":1", Text: "hello"},
		{Source: filepath.Join(dir, "c", "b.jsonl") + ":3", IDs: []int32{1, 2, 3}},
	}
	if !reflect.DeepEqual(docs, want) {
		t.Fatalf("docs %+v\nwant %+v", docs, want)
	}
	docs, err = readAll(t, filepath.Join(dir, "c"), CorpusOptions{TextField: "body"})
	if err == nil {
		t.Fatal("a record without the text field was accepted")
	}
	// The custom field reads line 4; sub/c.txt comes after b.jsonl.
	write("b.jsonl", "{\"body\": \"x\"}\n")
	docs, err = readAll(t, filepath.Join(dir, "c"), CorpusOptions{TextField: "body"})
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 3 || docs[1].Text != "x" || docs[2].Text != "third" {
		t.Fatalf("docs %+v", docs)
	}
}

func TestParseIDs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []int32
		ok   bool
	}{
		{"[]", []int32{}, true},
		{" [ 1 , 22,333 ] ", []int32{1, 22, 333}, true},
		{"[2147483647]", []int32{2147483647}, true},
		{"[2147483648]", nil, false},
		{"[-1]", nil, false},
		{"[1.5]", nil, false},
		{"[1e3]", nil, false},
		{"[1,]", nil, false},
		{"[,1]", nil, false},
		{"[1 2]", nil, false},
		{`["1"]`, nil, false},
		{"{}", nil, false},
		{"", nil, false},
	} {
		got, err := ParseIDs([]byte(tc.in))
		if (err == nil) != tc.ok || tc.ok && !slices.Equal(got, tc.want) {
			t.Errorf("ParseIDs(%q) = %v, %v", tc.in, got, err)
		}
	}
}

// FuzzParseIDs: any input gives ids or an error, never a panic, and
// accepted input re-encodes to the same numbers.
func FuzzParseIDs(f *testing.F) {
	f.Add([]byte("[1, 2, 3]"))
	f.Add([]byte("[]"))
	f.Add([]byte("[99999999999]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ids, err := ParseIDs(b)
		if err != nil {
			return
		}
		for _, id := range ids {
			if id < 0 {
				t.Fatalf("negative id %d accepted", id)
			}
		}
	})
}

// TestCorpusParquet writes Parquet files shaped like Hugging Face datasets
// output (a string text column next to others; a list<int64> input_ids
// column) with parquet-go and reads them back, across several row groups.
func TestCorpusParquet(t *testing.T) {
	dir := t.TempDir()
	type textRow struct {
		ID   int64  `parquet:"id"`
		Text string `parquet:"text"`
	}
	type idsRow struct {
		InputIDs []int64 `parquet:"input_ids,list"`
		Label    string  `parquet:"label"`
	}
	var texts []textRow
	var idsRows []idsRow
	for i := range 2500 {
		texts = append(texts, textRow{ID: int64(i), Text: strings.Repeat("w", i%7) + "."})
		ids := make([]int64, i%5) // includes empty lists
		for j := range ids {
			ids[j] = int64(i*10 + j)
		}
		idsRows = append(idsRows, idsRow{InputIDs: ids, Label: "x"})
	}
	tp := filepath.Join(dir, "text.parquet")
	ip := filepath.Join(dir, "ids.parquet")
	writeParquet(t, tp, texts)
	writeParquet(t, ip, idsRows)

	docs, err := readAll(t, tp, CorpusOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != len(texts) {
		t.Fatalf("%d docs, want %d", len(docs), len(texts))
	}
	for i, d := range docs {
		if d.Text != texts[i].Text || d.IDs != nil {
			t.Fatalf("doc %d = %+v", i, d)
		}
	}
	docs, err = readAll(t, ip, CorpusOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != len(idsRows) {
		t.Fatalf("%d docs, want %d", len(docs), len(idsRows))
	}
	for i, d := range docs {
		if len(d.IDs) != len(idsRows[i].InputIDs) {
			t.Fatalf("doc %d has %d ids, want %d", i, len(d.IDs), len(idsRows[i].InputIDs))
		}
		for j, v := range d.IDs {
			if int64(v) != idsRows[i].InputIDs[j] {
				t.Fatalf("doc %d id %d = %d", i, j, v)
			}
		}
	}
	if _, err := readAll(t, tp, CorpusOptions{TextField: "content"}); err == nil {
		t.Fatal("missing column accepted")
	}
	bad := filepath.Join(dir, "bad.parquet")
	os.WriteFile(bad, []byte("PAR1 not really"), 0o644)
	if _, err := readAll(t, bad, CorpusOptions{}); err == nil {
		t.Fatal("damaged Parquet accepted")
	}
}

func writeParquet[T any](t *testing.T, path string, rows []T) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := parquet.NewGenericWriter[T](f, parquet.MaxRowsPerRowGroup(1000), parquet.PageBufferSize(4096))
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestReplayPacking(t *testing.T) {
	p := &replayPacker{ls: 4, mask: true}
	var rows [][]int32
	var masks [][]bool
	for _, rd := range []replayDoc{
		{prompt: []int32{1, 2}, response: []int32{3, eosID}},
		{prompt: []int32{4}, response: []int32{5, 6, eosID}},
		{prompt: []int32{7, 8, 9}, response: []int32{eosID}},
	} {
		for _, r := range p.add(rd) {
			if !slices.Equal(r.PositionIDs, []int32{0, 1, 2, 3}) {
				t.Fatalf("positions %v", r.PositionIDs)
			}
			rows = append(rows, r.InputIDs)
			masks = append(masks, r.LossMask)
		}
	}
	wantRows := [][]int32{{1, 2, 3, eosID}, {4, 5, 6, eosID}, {7, 8, 9, eosID}}
	wantMasks := [][]bool{{false, false, true, true}, {false, true, true, true}, {false, false, false, true}}
	if !reflect.DeepEqual(rows, wantRows) || !reflect.DeepEqual(masks, wantMasks) || p.leftover() != 0 {
		t.Fatalf("rows %v masks %v leftover %d", rows, masks, p.leftover())
	}
	p.add(replayDoc{prompt: []int32{1}, response: []int32{eosID}})
	if p.leftover() != 2 {
		t.Fatalf("leftover %d, want 2", p.leftover())
	}
}

// TestCorpusHFParquet reads a Parquet file written by an independent
// implementation (hyparquet-writer, scripts/parquet-fixtures.sh) in the
// layout Hugging Face datasets use: optional string "text", optional
// list<int64> "input_ids" (3-level LIST, empty lists included), several
// row groups and small pages. Expected values are in hf-style.json.
func TestCorpusHFParquet(t *testing.T) {
	b, err := os.ReadFile("testdata/hf-style.json")
	if err != nil {
		t.Fatal(err)
	}
	var want struct {
		Text     []*string `json:"text"`
		InputIDs [][]int32 `json:"input_ids"`
	}
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	ids, err := readAll(t, "testdata/hf-style.parquet", CorpusOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != len(want.InputIDs) {
		t.Fatalf("%d documents, want %d", len(ids), len(want.InputIDs))
	}
	for i, d := range ids {
		if len(d.IDs) != len(want.InputIDs[i]) || len(d.IDs) > 0 && !slices.Equal(d.IDs, want.InputIDs[i]) {
			t.Fatalf("row %d: ids %v, want %v", i, d.IDs, want.InputIDs[i])
		}
	}
	texts, err := readAll(t, "testdata/hf-style.parquet", CorpusOptions{IDsField: "no_such_column"})
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range texts {
		w := ""
		if want.Text[i] != nil {
			w = *want.Text[i]
		}
		if d.Text != w {
			t.Fatalf("row %d: text %q, want %q", i, d.Text, w)
		}
	}
}
