package eval

// MaxLength is the longest prompt length in tokens an evaluation accepts
// (16M), checked by the eval command's --lengths and by a recipe's
// eval.lengths when the recipe is loaded, before any memory is sized by it.
const MaxLength = 1 << 24

// MinLength is the shortest prompt length an evaluation accepts.
const MinLength = 16
