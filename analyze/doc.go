// Package analyze implements LongRecipe's impactful-token analysis (method
// note §1): score every token of sample documents under a base and an
// extended model (or under one model with a short and with the full
// context), take Δ of the gold token's probability and log-probability,
// keep the top fraction of tokens by Δ in each position bucket, and count
// what kinds of tokens they are (numerals, punctuation, whitespace,
// pronouns, auxiliaries, conjunctions, adpositions, other). The token ids
// over-represented among the top tokens form the impactful set that
// `prepare --impactful` reads.
package analyze
