package eval

// The haystack names, the same wherever a haystack is chosen (the eval
// command's --haystack, a recipe's eval.haystack, the experiment). Any
// other value is a text or JSONL file. The caller turns a name into a
// Haystack (package eval/folder: OpenHaystack); eval knows no corpus.
const (
	// HaystackHeldOut is the held-out split of the shipped corpus, the
	// default ("" means it too).
	HaystackHeldOut = "heldout"
	// HaystackNoise is the repeated noise sentences of PoSE's passkey
	// prompt; "repeat", its former name in the eval command, is accepted.
	HaystackNoise = "noise"
)

// IsHaystackName reports whether s names a built-in haystack rather than
// a file ("" included).
func IsHaystackName(s string) bool {
	switch s {
	case "", HaystackHeldOut, HaystackNoise, "repeat":
		return true
	}
	return false
}
