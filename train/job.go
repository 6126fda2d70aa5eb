package train

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strconv"

	"github.com/longrecipe/longrecipe/hf"
	"github.com/longrecipe/longrecipe/internal/paths"
	"github.com/longrecipe/longrecipe/model"
	"github.com/longrecipe/longrecipe/shards"
)

// FolderJob trains a Hugging Face model folder on a dataset and writes the
// trained model folder: the whole of "longrecipe train", for library users
// (the recipe, the tiny-base builder).
type FolderJob struct {
	Hyper
	// From is the input model folder; its tokenizer files are copied to
	// Output at the end.
	From string
	// Data is a shard folder or a JSONL file of rows.
	Data string
	// Output is the run folder (checkpoints, metrics, final model).
	Output          string
	CheckpointEvery int
	// Threads for attention and elementwise work (0: GOMAXPROCS).
	Threads int
	// Checkpointing enables activation recomputation.
	Checkpointing bool
	// Precision of the matrix multiplies (model.FP32, the zero value, or
	// model.BF16). BF16 is recorded in the checkpoints' settings; FP32
	// records nothing, so fp32 checkpoints are those of earlier versions.
	Precision model.Precision
	// SaveDType is the final model's dtype ("" = the input's torch_dtype,
	// else float32).
	SaveDType string
	Force     bool
	Progress  io.Writer
	Log       io.Writer
}

// RunFolder loads the model, opens the data and runs (or resumes) the
// training described by j.
//
// The checkpoints record Threads, Checkpointing and a bf16 Precision with
// the hyperparameters (a different thread count could change the sums), not
// the input paths: a resumed run takes every weight from the checkpoint,
// and the data is compared by its row count and a fingerprint.
func RunFolder(ctx context.Context, j FolderJob) (*Result, error) {
	if j.From == "" || j.Data == "" || j.Output == "" {
		return nil, fmt.Errorf("train: the input model folder, the data and the output folder are all required")
	}
	// Links resolved: an output that is a symbolic link to the input model
	// (or inside it, or holding it) would overwrite it.
	if err := paths.CheckOutput("train", j.Output, j.From, j.Data); err != nil {
		return nil, err
	}
	ds, err := shards.Open(j.Data)
	if err != nil {
		return nil, err
	}
	defer ds.Close()
	if ds.Len() == 0 {
		return nil, fmt.Errorf("training data %s has no rows", j.Data)
	}
	m, err := model.LoadPrecision(j.From, j.Precision)
	if err != nil {
		return nil, err
	}
	dtype := j.SaveDType
	if dtype == "" {
		dtype = m.Cfg.TorchDtype
	}
	if dtype == "" {
		dtype = "float32"
	}
	if !SaveDTypeOK(dtype) {
		return nil, fmt.Errorf("train: save dtype %q: want float32, bfloat16 or float16", dtype)
	}
	threads := j.Threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	h := j.Hyper
	if h.Steps == 0 {
		h.Steps = (ds.Len() + h.Batch*h.GradAccum - 1) / (h.Batch * h.GradAccum)
	}
	extra := map[string]string{}
	for k, v := range h.Extra {
		extra[k] = v
	}
	extra["threads"] = strconv.Itoa(threads)
	extra["checkpointing"] = strconv.FormatBool(j.Checkpointing)
	if j.Precision != model.FP32 {
		extra["precision"] = j.Precision.String()
	}
	h.Extra = extra
	return Run(ctx, Config{
		Hyper:           h,
		Model:           Llama{M: m, Opt: model.Options{Checkpointing: j.Checkpointing, Threads: threads, Stop: func() bool { return ctx.Err() != nil }}},
		Data:            ds,
		MaxRowTokens:    m.Cfg.MaxPositionEmbeddings,
		DataName:        j.Data,
		Output:          j.Output,
		CheckpointEvery: j.CheckpointEvery,
		Force:           j.Force,
		SaveModel: func(dir string) error {
			if err := m.Save(dir, dtype); err != nil {
				return err
			}
			_, err := hf.CopyTokenizerFiles(j.From, dir)
			return err
		},
		Progress: j.Progress,
		Log:      j.Log,
	})
}

// SaveDTypeOK reports whether dtype names a dtype the final model can be
// saved in (float32, bfloat16, float16, in any spelling hf.ParseDType
// accepts).
func SaveDTypeOK(dtype string) bool {
	dt, err := hf.ParseDType(dtype)
	return err == nil && (dt == hf.F32 || dt == hf.BF16 || dt == hf.F16)
}
