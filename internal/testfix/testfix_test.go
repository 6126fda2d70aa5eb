package testfix

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/longrecipe/longrecipe/model"
)

func TestLlamaDefaultsAndLoad(t *testing.T) {
	tests := []struct {
		name string
		l    Llama
		want func(t *testing.T, m *model.Model)
	}{
		{"defaults", Llama{}, func(t *testing.T, m *model.Model) {
			c := m.Cfg
			if c.VocabSize != 4096 || c.HiddenSize != 32 || c.NumHiddenLayers != 1 || c.MaxPositionEmbeddings != 256 || c.BOSTokenID != -1 {
				t.Errorf("config %+v", c)
			}
		}},
		{"custom", Llama{Vocab: 32, Hidden: 16, Intermediate: 32, Layers: 2, Heads: 4, KVHeads: 2, Window: 64, DType: "bf16", Stops: true}, func(t *testing.T, m *model.Model) {
			c := m.Cfg
			if c.VocabSize != 32 || c.NumHiddenLayers != 2 || c.NumKeyValueHeads != 2 || c.TorchDtype != "bfloat16" || c.BOSTokenID != 4093 || c.EOSTokenID != 4094 {
				t.Errorf("config %+v", c)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.l.Write(t, filepath.Join(t.TempDir(), "m"))
			m, err := model.Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			tc.want(t, m)
			if _, err := os.Stat(filepath.Join(dir, "tokenizer.json")); err != nil {
				t.Errorf("tokenizer.json: %v", err)
			}
		})
	}
}

func TestWriteIsDeterministic(t *testing.T) {
	a, err := os.ReadFile(filepath.Join(Llama{Seed: 3}.Write(t, t.TempDir()), "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(Llama{Seed: 3}.Write(t, t.TempDir()), "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if string(a) != string(b) {
		t.Error("same seed, different weights")
	}
}

func TestTrainRows(t *testing.T) {
	path := TrainRows(t, filepath.Join(t.TempDir(), "r.jsonl"), 3, 5, 7)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		var row struct {
			InputIDs    []int `json:"input_ids"`
			PositionIDs []int `json:"position_ids"`
			LossMask    []int `json:"loss_mask"`
		}
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatal(err)
		}
		if len(row.InputIDs) != 5 || row.PositionIDs[4] != 12 || row.LossMask[1] != 0 || row.LossMask[2] != 1 {
			t.Errorf("row %d: %+v", n, row)
		}
		for _, id := range row.InputIDs {
			if id >= 7 {
				t.Errorf("id %d >= vocab", id)
			}
		}
		n++
	}
	if n != 3 {
		t.Errorf("%d rows, want 3", n)
	}
}
