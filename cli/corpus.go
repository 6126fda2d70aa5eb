package cli

import (
	"context"
	"fmt"

	"github.com/longrecipe/longrecipe/inputs"
)

func init() {
	register(&command{
		name:    "corpus",
		summary: "write the embedded public-domain corpus as JSONL: training split, held-out split, replay records",
		run:     runCorpus,
	})
}

const corpusUsage = "corpus --output DIR [--join-words N] [--replay-words N] [--seed S] [--force]"

func runCorpus(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "corpus", corpusUsage,
		"Writes the embedded corpus (US State of the Union addresses, public domain) as the quickstart and\n"+
			"the experiment see it: DIR/train.jsonl (training split), DIR/heldout.jsonl (the held-out split that\n"+
			"eval reads by default) and DIR/replay.jsonl (stage-2 replay records drawn from the training split:\n"+
			"general text and generic recall practice, never an evaluation wording), one {\"text\"} or\n"+
			"{\"prompt\",\"response\"} record per line. --join-words N joins consecutive documents of each split\n"+
			"until each holds at least N words, for target windows longer than one address (about 1.3\n"+
			"tokens per word with a 50k vocabulary: 32k tokens ≈ 25000 words). A non-empty DIR is replaced\n"+
			"only with --force.")
	output := fs.String("output", "", "folder for the three files (required)")
	join := fs.Int("join-words", 0, "join consecutive documents until each has at least this many words (0: one document each)")
	replayWords := fs.Int("replay-words", 170, "words of text in each replay record")
	seed := fs.Int64("seed", 2027, "seed of the replay records")
	force := fs.Bool("force", false, "replace an existing non-empty output folder")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return usageErrorf("unexpected arguments %q", fs.Args())
	case *output == "":
		return usageErrorf("--output is required: %s", corpusUsage)
	case *join < 0 || *replayWords <= 0:
		return usageErrorf("--join-words must be >= 0 and --replay-words > 0")
	}
	if err := checkWrite("corpus", *output, *force); err != nil {
		return err
	}
	f, err := inputs.Write(inputs.Options{Dir: *output, Seed: *seed, ReplayWords: *replayWords, JoinWords: *join})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%s\n%s\n%s\n", f.Train, f.HeldOut, f.Replay)
	return nil
}
