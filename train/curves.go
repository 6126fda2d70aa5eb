package train

import (
	"bufio"
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/longrecipe/longrecipe/internal/paths"
	"github.com/longrecipe/longrecipe/plot"
)

// ReadMetrics reads a metrics.jsonl written by Run.
func ReadMetrics(path string) ([]Metric, error) {
	f, err := paths.OpenRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ms []Metric
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		var m Metric
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		ms = append(ms, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ms, nil
}

// writeCurves draws loss.png and lr.png in out from out/metrics.jsonl.
func writeCurves(out string) error {
	ms, err := ReadMetrics(filepath.Join(out, metricsFile))
	if err != nil {
		return fmt.Errorf("curves: %w", err)
	}
	if len(ms) == 0 {
		return nil
	}
	x := make([]float64, len(ms))
	loss := make([]float64, len(ms))
	lr := make([]float64, len(ms))
	for i, m := range ms {
		x[i], loss[i], lr[i] = float64(m.Step), m.Loss, m.LR
	}
	lc := plot.LineChart{Title: "Training loss", XLabel: "step", YLabel: "mean NLL (nats/token)", Series: []plot.Series{{Name: "loss", X: x, Y: loss}}}
	if err := lc.SavePNG(filepath.Join(out, "loss.png")); err != nil {
		return err
	}
	rc := plot.LineChart{Title: "Learning rate", XLabel: "step", YLabel: "learning rate", Series: []plot.Series{{Name: "lr", X: x, Y: lr}}}
	return rc.SavePNG(filepath.Join(out, "lr.png"))
}
