// Package experiment is the miniature reproduction of the LongRecipe paper
// (arXiv 2409.00509) on one base model and the embedded corpus, run for
// several seeds (Options.Seeds: Seed, Seed+1, …). For every seed, on the
// same base model, corpus (the training split cut into chunks of at least
// Lt tokens, so that no run repeats data) and optimizer settings, it
// trains:
//
//   - the methods: LongRecipe (30 % of Lt, digit sentences kept, others
//     dropped with probability 0.5), PoSE and RandPos at 30 % of Lt on the
//     token budget (Options.Tokens), and FLT (full-length rows of Lt =
//     factor × the base window) twice: on the token budget (equal tokens,
//     fewer steps) and on as many rows as LongRecipe (equal sequences, the
//     paper's main comparison);
//   - for each of those five, the same stage 2 (the same replay rows, LR
//     decaying to zero) and stage 3 (merge with the original weights,
//     θ = (θ_stage2 + θ_orig)/2);
//   - the controls: the start model (θ raised, no training); LongRecipe
//     positions without sentence selection; with random sentence drops at
//     the kept fraction of the digit selection; with the impactful set of
//     an analysis of the base and the equal-tokens FLT model (package
//     analyze) instead of digits;
//   - the kept-token ratio ablation: LongRecipe at 10, 20, 30 and 40 %,
//     each for LongRecipe 30 %'s steps;
//   - for the controls and the ratios too, the same stage 2 and stage 3.
//
// Each seed shuffles the training chunks, so every method's data order
// (FLT's included) varies with the seed.
//
// Every model is evaluated on passkey, single-needle, decoy pass-key and
// decoy multi-key retrieval at 1×, 2×, 4× … factor× the base window
// (needle depths 0, 0.5, 1) in the evaluation's held-out wording, by
// greedy string-match accuracy, by the rank of the gold answer among 9
// distractors by log-likelihood (top-1 rate; chance 10 %; on the decoy
// tasks, 3 or 4 distractors occur in the prompt) and by the needle's
// gain in its log-likelihood; on
// perplexity by position over held-out documents (one document per
// sequence); and on short-context perplexity (window = the base window).
// Training wall time and analytic training FLOPs (RowFLOPs) are recorded.
//
// Each seed's results go to Output/seed-N (results.json, results.md,
// charts); Output/results.json and results.md hold the claim table: each
// claim of the paper, the paper's figure, ours as the mean over seeds ± the
// 95 % t-interval over seeds, and whether it holds. Each step (data,
// training, evaluation) is a stage of the shared runner (package stage): a
// rerun skips finished work, resumes interrupted training, and redoes what
// its changed inputs touch.
package experiment
