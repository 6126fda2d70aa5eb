// Package eval measures long-context ability: RULER-style synthetic
// tasks (passkey retrieval, needles in a haystack, variable tracking,
// common and frequent word extraction) generated deterministically from a
// seed and sized in the model's own tokens, string-match scoring,
// perplexity by position, a client for OpenAI-compatible servers, and
// reports (JSON, Markdown, PNG) including side-by-side comparisons.
//
// Conventions:
//   - A prompt of length L has L tokens ±1 % (Tolerance), counted with
//     the tokenizer's special tokens (BOS), as the engine is fed.
//   - Depth d places the needle (the first needle; others at random
//     depths) after a fraction d of the filler's tokens, moved to the
//     nearest sentence boundary within 1 % of the filler's words.
//   - Prompts have the shape of PoSE's (passkey) and RULER's (the rest)
//     tasks, in a Wording held out from every training source of the
//     project (HeldOutWording; RULERWording is the published text), with
//     RULER's solved example before vt, cwe and fwe, so those need a few
//     hundred tokens of room; a task that cannot fit a length fails
//     before any model runs.
//   - Each sample's randomness is a function of (seed, task, length,
//     depth, sample), so adding tasks or lengths changes no other prompt.
//   - Scoring is RULER's string-match recall, with whole-word matching;
//     on a model that scores, single-answer needle tasks and the decoy
//     tasks are also ranked against NumDistractors answers of the same
//     form by log-likelihood, and the needle's gain in the answer's
//     log-likelihood is measured (Partial). The decoy tasks' distractors
//     include answers found in the prompt (decoy.go); every ranked cell
//     states its copy baseline (CopyTop1), and only tasks whose copy
//     baseline is at most MaxClaimCopy can support a claim.
//   - A report folder holds items.jsonl (every prompt, its candidates and
//     their scores) and ppl_docs.jsonl (the loss of every document), from
//     which its figures can be recomputed.
package eval
