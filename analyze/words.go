package analyze

// Word lists for the function-word kinds. Written for this project from
// general English grammar (no external list was copied); public domain.
// Each word is filed under the Universal Dependencies class of its most
// common use: "that" as a conjunction (SCONJ), "to" as an adposition,
// "have"/"do"/"be" forms as auxiliaries (they are also main verbs, which a
// word list cannot tell apart), "one" as a numeral. Contraction tokens
// ("'ll", "'re", ...) count as the auxiliary they stand for; "'s" (is, has
// or possessive) stays Other.
var wordLists = map[Kind][]string{
	Numeral: {
		"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
		"eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
		"nineteen", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
		"hundred", "thousand", "million", "billion", "trillion", "dozen",
	},
	Pronoun: {
		"i", "me", "my", "mine", "myself", "you", "your", "yours", "yourself", "yourselves",
		"he", "him", "his", "himself", "she", "her", "hers", "herself", "it", "its", "itself",
		"we", "us", "our", "ours", "ourselves", "they", "them", "their", "theirs", "themselves",
		"thou", "thee", "thy", "thine", "ye", "who", "whom", "whose", "which", "what",
		"whoever", "whomever", "whatever", "whichever", "anybody", "anyone", "anything",
		"everybody", "everyone", "everything", "nobody", "nothing", "somebody", "someone",
		"something", "oneself",
	},
	Auxiliary: {
		"be", "am", "is", "are", "was", "were", "been", "being", "have", "has", "had", "having",
		"do", "does", "did", "will", "would", "shall", "should", "can", "could", "may", "might",
		"must", "ought", "'ll", "'re", "'ve", "'m", "'d",
	},
	Conjunction: {
		"and", "or", "but", "nor", "yet", "because", "although", "though", "if", "unless",
		"whether", "while", "whereas", "that", "lest", "whilst",
	},
	Adposition: {
		"of", "in", "to", "for", "with", "on", "at", "by", "from", "into", "upon", "about",
		"against", "among", "amongst", "between", "through", "throughout", "during", "before",
		"after", "above", "below", "under", "over", "without", "within", "toward", "towards",
		"across", "along", "around", "behind", "beyond", "despite", "except", "near", "onto",
		"per", "since", "till", "until", "via", "amid", "as", "besides", "beneath", "beside",
		"inside", "outside", "unto", "than", "regarding", "concerning",
	},
}

// functionWords maps each listed word to its kind.
var functionWords = func() map[string]Kind {
	m := map[string]Kind{}
	for k, words := range wordLists {
		for _, w := range words {
			m[w] = k // TestWordListsDisjoint checks that no word is listed twice
		}
	}
	return m
}()
