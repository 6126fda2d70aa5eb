"""Share of digit tokens and of an analysis impactful set in a corpus and in prepared rows.

    python docs/real-model/selection_stats.py TOKENIZER.json CORPUS.jsonl IMPACTFUL.json ROWS.jsonl...

CORPUS.jsonl has a "text" field per document (longrecipe corpus); each ROWS.jsonl is the output of
`longrecipe prepare --format jsonl` (an "input_ids" field per row). Uses the Hugging Face
`tokenizers` package of the project's Python environment (scripts/pyenv.sh).
"""
import json
import sys

from tokenizers import Tokenizer


def shares(ids, digit_ids, impactful):
    n = len(ids)
    return n, sum(i in digit_ids for i in ids) / n, sum(i in impactful for i in ids) / n


def main(tok_file, corpus, impactful_file, *rows_files):
    tok = Tokenizer.from_file(tok_file)
    digit_ids = {i for i in range(tok.get_vocab_size()) if any(c.isdigit() for c in tok.decode([i]))}
    impactful = set(json.load(open(impactful_file))["token_ids"])
    texts = [json.loads(line)["text"] for line in open(corpus)]
    source = [i for t in texts for i in tok.encode(t, add_special_tokens=False).ids]
    print("| data | tokens | digit tokens | analysis-set tokens |")
    print("|---|---:|---:|---:|")
    for name, ids in [("source documents", source)] + [
        (f, [i for line in open(f) for i in json.loads(line)["input_ids"]]) for f in rows_files
    ]:
        n, d, a = shares(ids, digit_ids, impactful)
        print(f"| {name} | {n} | {100 * d:.2f} % | {100 * a:.2f} % |")


if __name__ == "__main__":
    main(*sys.argv[1:])
