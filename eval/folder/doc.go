// Package folder evaluates a model folder: it is the one place that decides
// how a folder on disk becomes an evaluation, for the eval command, the
// recipe's eval stage and the experiment alike.
//
// Open loads the model and its tokenizer and decides:
//   - stop tokens: the tokenizer's EOS and every eos_token_id of
//     config.json (generation stops at any of them);
//   - the haystack: OpenHaystack's names ("" or "heldout": the
//     held-out split of the shipped corpus; "noise" or "repeat": PoSE's
//     noise sentences) or a file;
//   - perplexity: its text (PPLDocuments) and its short window (the
//     model's original window — rope_scaling's
//     original_max_position_embeddings, else max_position_embeddings —
//     capped at the largest prompt length, unless set).
//
// Package eval itself never imports the model; this package joins them.
package folder
