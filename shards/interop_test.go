package shards

import (
	"bytes"
	"encoding/json"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

var writeParquetFixture = flag.Bool("write-parquet-fixture", false, "rewrite testdata/export.parquet (then run scripts/parquet-fixtures.sh)")

// interopRows are the rows of the Parquet interoperability fixture.
func interopRows() []Row {
	rows := randomRows(rand.New(rand.NewPCG(2027, 1)), 25)
	for i := range rows {
		if rows[i].LossMask == nil && i%2 == 0 {
			rows[i].LossMask = make([]bool, len(rows[i].InputIDs))
			for j := range rows[i].LossMask {
				rows[i].LossMask[j] = j%3 != 0
			}
		}
	}
	return rows
}

// TestParquetInterop checks the Parquet export against an independent
// reader: testdata/export.hyparquet.json is testdata/export.parquet as
// hyparquet (JavaScript) decodes it. The exporter must still write exactly
// that file, and hyparquet must have seen list<int32> columns input_ids,
// position_ids, labels holding our rows, with -100 labels where masked.
func TestParquetInterop(t *testing.T) {
	rows := interopRows()
	dir := t.TempDir()
	w, err := Create(dir, WriterOptions{Format: Parquet, Labels: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(Manifest{Method: "interop"}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "data-00000.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	if *writeParquetFixture {
		if err := os.WriteFile("testdata/export.parquet", got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile("testdata/export.parquet")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("the exporter no longer writes testdata/export.parquet; rerun scripts/parquet-fixtures.sh")
	}
	var hy struct {
		Reader string
		Schema []struct {
			Name          string
			ConvertedType *string `json:"converted_type"`
			Leaf          string
		}
		Rows []map[string][]int64
	}
	b, err := os.ReadFile("testdata/export.hyparquet.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &hy); err != nil {
		t.Fatal(err)
	}
	for _, c := range hy.Schema {
		if c.ConvertedType == nil || *c.ConvertedType != "LIST" || c.Leaf != "INT32" {
			t.Errorf("column %s: converted type %v, leaf %s; want LIST of INT32", c.Name, c.ConvertedType, c.Leaf)
		}
	}
	if len(hy.Rows) != len(rows) {
		t.Fatalf("hyparquet read %d rows, want %d", len(hy.Rows), len(rows))
	}
	for i, r := range rows {
		want := map[string][]int64{"input_ids": {}, "position_ids": {}, "labels": {}}
		for j := range r.InputIDs {
			want["input_ids"] = append(want["input_ids"], int64(r.InputIDs[j]))
			want["position_ids"] = append(want["position_ids"], int64(r.PositionIDs[j]))
			l := int64(r.InputIDs[j])
			if r.LossMask != nil && !r.LossMask[j] {
				l = -100
			}
			want["labels"] = append(want["labels"], l)
		}
		if !reflect.DeepEqual(hy.Rows[i], want) {
			t.Fatalf("row %d as hyparquet reads it differs from what was written", i)
		}
	}
}
