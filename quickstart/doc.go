// Package quickstart runs the whole recipe on the embedded defaults: the
// tiny base model pretrained at a 256-token window, the public-domain
// corpus and replay data made from it. It extends the window 8× with
// LongRecipe at 30 % training length, evaluates before and after, and
// returns a before/after table.
package quickstart
