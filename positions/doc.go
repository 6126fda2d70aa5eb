// Package positions computes the position ids a training sample is shown
// at: LongRecipe's sentence-preserving scatter, PoSE's two chunks, RandPos's
// sorted random positions and plain full-length positions. Every function is
// pure: its randomness comes only from the *rand.Rand it is given, so a
// (seed, sample) pair always gives the same positions.
//
// All functions return positions that are strictly increasing and lie in
// [0, lt), one per real token, and use O(tokens) memory whatever lt is.
package positions
