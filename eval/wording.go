package eval

import (
	"fmt"
	"regexp"
	"strings"
)

// Wording is the fixed text of the synthetic tasks: instructions, needle
// sentences, questions and the noise filler. Templates name their slots
// in braces: {key} (a pass key or needle key), {value} (a number),
// {query} (the keys asked for), {name} and {prev} (variable names).
//
// Two wordings exist. HeldOutWording, the default, was written for this
// project and appears in no training source it ships or generates (a test
// in tinybase guards this), so a model trained here meets it for the
// first time at evaluation. RULERWording is the published text of PoSE's
// passkey and RULER's tasks, for comparing a real model with published
// numbers; the project's training data must not contain it either.
type Wording struct {
	Name string
	// Noise is the filler sentence group of passkey, vt and the noise
	// haystack, repeated as needed.
	Noise string
	// Passkey: intro line, the needle (with {key} twice) and the question
	// the answer follows.
	PasskeyIntro, PasskeyNeedle, PasskeyQuestion string
	// PasskeyDecoy is a decoy key's sentence ({key}) in decoy_passkey,
	// written for this project in both wordings.
	PasskeyDecoy string
	// Needle tasks: intro, one needle ({key}, {value}) and the question
	// ({query}, twice).
	NIAHIntro, NIAHNeedle, NIAHQuestion string
	// Variable tracking: intro, the first assignment ({name}, {value}),
	// each chained one ({name}, {prev}) and the question ({value} twice,
	// {count}).
	VTIntro, VTAssign, VTChain, VTQuestion string
	// Common words: intro and question (ten words are asked for).
	CWEIntro, CWEQuestion string
	// Frequent words: intro and question (three words; the dots "...."
	// are to be ignored).
	FWEIntro, FWEQuestion string
}

// HeldOutWording is the default wording: no training source of the
// project contains any of its fragments (see Fragments).
var HeldOutWording = &Wording{
	Name:            "held-out",
	Noise:           "The kettle hums on the stove. A gull circles over the pier. Wet sand clings to old boots. Far off a ferry sounds its horn. Night settles over the bay.",
	PasskeyIntro:    "Somewhere in the long passage below a secret number is written down. Read it all, hold that number in mind, and give it back when you are asked at the end.",
	PasskeyNeedle:   "Secret number: {key}. Hold on to this secret number, {key}.",
	PasskeyQuestion: "Which secret number was written in the passage? The secret number was",
	PasskeyDecoy:    "A torn bus ticket shows {key}.",
	NIAHIntro:       "Hidden codes for a few labels are scattered through the passage below. Note every label together with its code, since questions about the codes come afterwards.",
	NIAHNeedle:      "A hidden code for {key} reads {value}.",
	NIAHQuestion:    "Which hidden codes for {query} appear in the passage? The hidden codes for {query} in the passage are",
	VTIntro:         "Track each chain of values handed along in the passage below.",
	VTAssign:        "{name} gets the value {value}.",
	VTChain:         "{name} gets the value of {prev}.",
	VTQuestion:      "Question: Which variables get the value {value} in the passage above? Answer: Following the chains, {count} variables get the value {value}, namely: ",
	CWEIntro:        "Here is a numbered list of words in which several words turn up far more often than the rest. Keep count of the ones that turn up the most.",
	CWEQuestion:     "Question: Which 10 words turn up most often in the numbered list above? Answer: The 10 words turning up most often in that list are:",
	FWEIntro:        "The passage below is written in coded words. Keep a tally of each coded word and find the three that turn up the most.",
	FWEQuestion:     "Question: Give no explanation and skip the dots '....'. Which three coded words turn up most often in the coded passage above? Answer: Counting the coded passage above, the three coded words turning up most often are:",
}

// RULERWording is PoSE's passkey prompt and RULER's task prompts, word
// for word (the decoy sentence of decoy_passkey is this project's).
var RULERWording = &Wording{
	Name:            "ruler",
	Noise:           "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.",
	PasskeyIntro:    "There is an important info hidden inside a lot of irrelevant text. Find it and memorize them. I will quiz you about the important information there.",
	PasskeyNeedle:   "The pass key is {key}. Remember it. {key} is the pass key.",
	PasskeyQuestion: "What is the pass key? The pass key is",
	PasskeyDecoy:    "A decoy key, {key}, is not the pass key.",
	NIAHIntro:       "Some special magic numbers are hidden within the following text. Make sure to memorize it. I will quiz you about the numbers afterwards.",
	NIAHNeedle:      "One of the special magic numbers for {key} is: {value}.",
	NIAHQuestion:    "What are all the special magic numbers for {query} mentioned in the provided text? The special magic numbers for {query} mentioned in the provided text are",
	VTIntro:         "Memorize and track the chain(s) of variable assignment hidden in the following text.",
	VTAssign:        "VAR {name} = {value}",
	VTChain:         "VAR {name} = VAR {prev}",
	VTQuestion:      "Question: Find all variables that are assigned the value {value} in the text above. Answer: According to the chain(s) of variable assignment in the text above, {count} variables are assigned the value {value}, they are: ",
	CWEIntro:        "Below is a numbered list of words. In these words, some appear more often than others. Memorize the ones that appear most often.",
	CWEQuestion:     "Question: What are the 10 most common words in the above list? Answer: The top 10 words that appear most often in the list are:",
	FWEIntro:        "Read the following coded text and track the frequency of each coded word. Find the three most frequently appeared coded words.",
	FWEQuestion:     "Question: Do not provide any explanation. Please ignore the dots '....'. What are the three most frequently appeared words in the above coded text? Answer: According to the coded text above, the three most frequently appeared words are:",
}

// Wordings lists every wording the suite can prompt with.
var Wordings = []*Wording{HeldOutWording, RULERWording}

// slot matches a template slot such as {key}.
var slot = regexp.MustCompile(`\{[a-z]+\}`)

// fill replaces the slots of tmpl: pairs are slot name, value, ...
func fill(tmpl string, pairs ...string) string {
	var r []string
	for i := 0; i+1 < len(pairs); i += 2 {
		r = append(r, "{"+pairs[i]+"}", pairs[i+1])
	}
	return strings.NewReplacer(r...).Replace(tmpl)
}

// templates returns every template of w.
func (w *Wording) templates() []string {
	return []string{w.Noise, w.PasskeyIntro, w.PasskeyNeedle, w.PasskeyQuestion, w.PasskeyDecoy,
		w.NIAHIntro, w.NIAHNeedle, w.NIAHQuestion, w.VTIntro, w.VTAssign, w.VTChain, w.VTQuestion,
		w.CWEIntro, w.CWEQuestion, w.FWEIntro, w.FWEQuestion}
}

// Fragments returns the fixed text of every template: the templates cut
// at their slots, each piece trimmed, empty pieces left out.
func (w *Wording) Fragments() []string {
	var out []string
	for _, t := range w.templates() {
		for _, p := range slot.Split(t, -1) {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// WordingNamed returns the wording called name ("held-out", also
// "heldout", or "ruler").
func WordingNamed(name string) (*Wording, error) {
	if name == "heldout" {
		name = HeldOutWording.Name
	}
	for _, w := range Wordings {
		if w.Name == name {
			return w, nil
		}
	}
	return nil, fmt.Errorf("wording %q: want heldout or ruler", name)
}
