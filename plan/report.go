package plan

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// WriteText prints p as a readable table: the layout, per-GPU memory by
// component, time, and the checks.
func WriteText(w io.Writer, p *Plan) error {
	var b strings.Builder
	model := p.Model
	if model == "" {
		model = "(config only)"
	}
	fmt.Fprintf(&b, "model        %s: %s parameters (from %s)\n", model, count(p.Parameters), p.ParamSource)
	fmt.Fprintf(&b, "lengths      target %d, train %d tokens per row (%.1f %%)\n", p.TargetLength, p.TrainLength, 100*float64(p.TrainLength)/float64(p.TargetLength))
	fmt.Fprintf(&b, "gpus         %d × %g GiB on %d node(s), precision %s\n", p.GPUs, p.GPUMemGiB, p.Nodes, p.Precision)
	fmt.Fprintf(&b, "layout       %s\n", layoutText(p))
	for _, n := range p.Notes {
		fmt.Fprintf(&b, "             %s\n", n)
	}
	b.WriteString("\nmemory per GPU\n")
	for _, r := range memoryRows(p) {
		fmt.Fprintf(&b, "  %-52s %10s\n", r.name, gibText(r.bytes))
	}
	writeTime(&b, p)
	b.WriteString("\nchecks\n")
	for _, c := range p.Checks {
		fmt.Fprintf(&b, "  %-5s %-30s %s\n", status(c), c.Name, c.Detail)
	}
	verdict := "OK: ready to launch"
	if !p.OK {
		verdict = "FAIL: " + strings.Join(failed(p), ", ")
	}
	fmt.Fprintf(&b, "\n%s\n", verdict)
	_, err := io.WriteString(w, b.String())
	return err
}

func layoutText(p *Plan) string {
	return fmt.Sprintf("sharding %s, cpu offload %v, context parallel %d, data parallel %d (%d rows each per step), ce chunk %d",
		p.Sharding, p.Offload, p.CP, p.DataParallel, p.RowsPerGPU, p.CEChunk)
}

type row struct {
	name  string
	bytes int64
}

func memoryRows(p *Plan) []row {
	m := p.Memory
	rows := []row{
		{"weights (fp32 master)", m.Weights},
		{"gradients (fp32)", m.Grads},
		{"optimizer (AdamW m, v fp32)", m.Optimizer},
	}
	if p.Offload {
		rows = append(rows, row{"  (offloaded to host: weights+grads+optimizer)", m.OffloadedStates})
	}
	if p.Sharding == "fsdp" {
		gathered := "fsdp gathered units (root + 2 layers, fp32)"
		if p.Precision == "bf16" {
			gathered = "fsdp gathered units (root + 2 layers, bf16)" // MixedPrecisionPolicy
		}
		rows = append(rows, row{gathered, m.Gathered}, row{"fsdp unsharded gradient of one unit", m.GradUnit})
	}
	if p.Sharding == "ddp" {
		rows = append(rows, row{"ddp all-reduce buckets (a copy of the gradients)", m.Buckets})
	}
	rows = append(rows,
		row{"activations: boundaries + the largest phase below", m.Activations},
		row{"  checkpoint boundaries (every layer's input)", m.Boundary},
		row{"  backward: one layer recomputed (saved tensors)", m.Layer},
		row{"            + its gradients", m.Backward})
	if p.CP > 1 {
		rows = append(rows, row{"            + ring attention (context parallel)", m.Ring})
	}
	return append(rows,
		row{"  loss: final norm + one logits chunk", m.Loss},
		row{"  autocast weight cache (forward, with the loss)", m.Cache},
		row{"headroom (CUDA context 1 GiB + 10 % fragmentation)", m.Headroom},
		row{"total", m.Total},
	)
}

func writeTime(b *strings.Builder, p *Plan) {
	t := p.Time
	fmt.Fprintf(b, "\ntime\n")
	fmt.Fprintf(b, "  tokens per step     %d (%d rows × %d)\n", t.TokensPerStep, t.TokensPerStep/int64(p.TrainLength), p.TrainLength)
	fmt.Fprintf(b, "  tokens in all       %s\n", count(t.TotalTokens))
	fmt.Fprintf(b, "  model FLOPs/token   %.3g (6·P + causal attention at Ls)\n", t.FlopsPerToken)
	src := t.Source
	if strings.HasPrefix(src, "measured") {
		src += fmt.Sprintf("; MFU %.2f of %g TFLOPS per GPU", t.MFU, t.PeakTFLOPS)
	}
	fmt.Fprintf(b, "  throughput          %.0f tokens/s (%s)\n", t.TokensPerSec, src)
	if t.RingSeconds > 0 {
		fmt.Fprintf(b, "  + ring transfers    %s (%s per row per GPU at %g GB/s, assumed; counted as not overlapped)\n",
			duration(t.RingSeconds), gibText(t.RingBytesPerRow), t.LinkGBps)
	}
	fmt.Fprintf(b, "  wall-clock          %s\n", duration(t.Seconds))
}

func status(c Check) string {
	switch {
	case c.OK && c.Warn:
		return "info"
	case c.OK:
		return "ok"
	case c.Warn:
		return "warn"
	}
	return "FAIL"
}

func gibText(n int64) string { return fmt.Sprintf("%.2f GiB", float64(n)/gib) }

func count(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2fB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.2fM", float64(n)/1e6)
	}
	return fmt.Sprint(n)
}

func duration(s float64) string {
	d := time.Duration(s * float64(time.Second)).Round(time.Minute)
	if h := d.Hours(); h >= 48 {
		return fmt.Sprintf("%s (%.1f days)", d, h/24)
	}
	return d.String()
}
