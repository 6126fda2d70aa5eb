package assets

import (
	"bytes"
	"compress/gzip"
	"strings"
	"testing"
)

func TestCorpus(t *testing.T) {
	docs, err := Corpus()
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 233 {
		t.Fatalf("got %d documents, want 233", len(docs))
	}
	total := 0
	for _, d := range docs {
		total += len(d.Text)
	}
	// UTF-8 bytes of the npm package's texts (sum over data/*.json "text" fields, measured with python3).
	if total != 10761202 {
		t.Errorf("total text is %d bytes, want 10761202", total)
	}
	first, last := docs[0], docs[len(docs)-1]
	if first.ID != "1790_george_washington_n" || first.Year != 1790 || first.President != "George Washington" ||
		!strings.HasPrefix(first.Text, "Fellow-Citizens of the Senate and House of Representatives:") {
		t.Errorf("first document = %+v", first.ID)
	}
	if last.Year != 2021 || last.President != "Joseph R Biden" {
		t.Errorf("last document = %s %d %s", last.ID, last.Year, last.President)
	}
	if first.Title != "State of the Union 1790 (George Washington)" {
		t.Errorf("title %q", first.Title)
	}
	// Corpus returns a fresh slice each time.
	docs[0].Text = ""
	again, _ := Corpus()
	if again[0].Text == "" {
		t.Error("Corpus shares its slice with callers")
	}
}

func TestSplit(t *testing.T) {
	docs, err := Corpus()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		percent    int
		minH, maxH int
		wantErr    bool
	}{
		{0, 0, 0, false},
		{10, 12, 36, false},
		{100, 233, 233, false},
		{-1, 0, 0, true},
		{101, 0, 0, true},
	}
	for _, tc := range tests {
		train, held, err := Split(docs, tc.percent)
		if tc.wantErr {
			if err == nil {
				t.Errorf("percent %d: no error", tc.percent)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(train)+len(held) != len(docs) || len(held) < tc.minH || len(held) > tc.maxH {
			t.Errorf("percent %d: %d train + %d held out", tc.percent, len(train), len(held))
		}
		for _, d := range held {
			if !HeldOut(d.ID, tc.percent) {
				t.Errorf("%s held out but HeldOut says no", d.ID)
			}
		}
	}
	// Nested: a document held out at 10 % is held out at 20 %.
	for _, d := range docs {
		if HeldOut(d.ID, 10) && !HeldOut(d.ID, 20) {
			t.Errorf("%s: held out at 10%% but not at 20%%", d.ID)
		}
	}
}

func gz(s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

func TestParseCorpusErrors(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"not gzip", []byte("plain"), "sotu.jsonl.gz"},
		{"bad json", gz("{\"id\":\n"), "line 1"},
		{"no text", gz(`{"id":"a","text":""}` + "\n"), "missing id or text"},
		{"duplicate", gz(`{"id":"a","text":"x"}` + "\n" + `{"id":"a","text":"y"}` + "\n"), "duplicate id"},
		{"empty", gz(""), "no documents"},
	}
	for _, tc := range tests {
		_, err := parseCorpus(tc.data)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
}
