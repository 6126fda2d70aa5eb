package analyze

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/longrecipe/longrecipe/internal/atomicfile"
	"github.com/longrecipe/longrecipe/plot"
)

// ImpactfulFile is the impactful-token file that `prepare --impactful`
// reads (package data, ReadImpactful): exactly these three fields.
type ImpactfulFile struct {
	TokenIDs      []int32 `json:"token_ids"`
	Source        string  `json:"source,omitempty"`
	TokenizerHash string  `json:"tokenizer_hash,omitempty"`
}

// impactfulJSON formats an ImpactfulFile with the ids on one line.
func impactfulJSON(ids []int32, source, hash string) []byte {
	q := func(s string) string {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.Encode(s) // a string always encodes
		return strings.TrimSpace(b.String())
	}
	var b bytes.Buffer
	b.WriteString("{\n \"token_ids\": [")
	for i, id := range ids {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(int(id)))
	}
	fmt.Fprintf(&b, "],\n \"source\": %s,\n \"tokenizer_hash\": %s\n}\n", q(source), q(hash))
	return b.Bytes()
}

// Output file names inside the output directory.
const (
	ReportFile    = "report.json"
	KindsPNG      = "kinds.png"
	RatioPNG      = "kinds_ratio.png"
	ImpactfulJSON = "impactful.json"
)

// WriteOutputs writes into dir (created if missing): report.json, the
// kind shares of the top set per position bucket as a stacked bar chart
// (kinds.png, the paper's figure), the over-representation ratio of each
// kind per bucket (kinds_ratio.png), and impactful.json for
// `prepare --impactful`, stamped with tokenizerHash and source.
func WriteOutputs(dir string, r *Report, tokenizerHash, source string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("analyze: output directory: %w", err)
	}
	var js bytes.Buffer
	enc := json.NewEncoder(&js)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("analyze: encode report: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, ReportFile), js.Bytes()); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, ImpactfulJSON), impactfulJSON(r.Impactful, source, tokenizerHash)); err != nil {
		return err
	}
	var cats []string
	for i := range r.Buckets {
		cats = append(cats, r.Buckets[i].Label())
	}
	// Kinds that occur at all, in report order.
	var kinds []int
	for k, s := range r.Overall {
		if s.All > 0 {
			kinds = append(kinds, k)
		}
	}
	var shares, ratios []plot.Series
	for _, k := range kinds {
		sh := plot.Series{Name: Kind(k).String()}
		ra := plot.Series{Name: Kind(k).String()}
		for i := range r.Buckets {
			sh.Y = append(sh.Y, r.Buckets[i].Kinds[k].TopShare)
			ra.Y = append(ra.Y, r.Buckets[i].Kinds[k].Ratio)
		}
		shares = append(shares, sh)
		ratios = append(ratios, ra)
	}
	title := fmt.Sprintf("Kinds of the top %g%% tokens by Δ%s, per position", 100*r.Top, r.Score)
	bar := plot.BarChart{Title: title, XLabel: "position of the token", YLabel: "share of the top set",
		Categories: cats, Series: shares, Stacked: true}
	if err := bar.SavePNG(filepath.Join(dir, KindsPNG)); err != nil {
		return err
	}
	rb := plot.BarChart{Title: "Over-representation in the top set (share in top / share in all)",
		XLabel: "position of the token", YLabel: "ratio", Categories: cats, Series: ratios}
	return rb.SavePNG(filepath.Join(dir, RatioPNG))
}
