#!/usr/bin/env node
// HF tokenizers (npm tokenizers) side of scripts/tokenizer/startup.sh: one
// whole run as a command would do it — load tokenizer.json, batch-encode
// every {"text": ...} row of a JSONL corpus (encodeBatch), write the ids as
// {"input_ids": [...]} lines — timed by the caller as a whole process.
// Prints the load and encode times it saw.
// Usage: node startup-hf.js NODE_MODULES TOKENIZER_JSON CORPUS_JSONL OUT_JSONL
'use strict';
const fs = require('fs');
const path = require('path');

async function main() {
  const [nm, tokFile, corpus, out] = process.argv.slice(2);
  const {Tokenizer} = require(path.join(path.resolve(nm), 'tokenizers'));
  const t0 = process.hrtime.bigint();
  const tok = Tokenizer.fromFile(tokFile);
  const t1 = process.hrtime.bigint();
  const texts = fs.readFileSync(corpus, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l).text);
  const enc = await tok.encodeBatch(texts, {addSpecialTokens: false});
  fs.writeFileSync(out, enc.map((e) => `{"input_ids": [${Array.from(e.getIds()).join(', ')}]}\n`).join(''));
  const t2 = process.hrtime.bigint();
  console.log(`hf_load_s=${(Number(t1 - t0) / 1e9).toFixed(3)} hf_encode_write_s=${(Number(t2 - t1) / 1e9).toFixed(3)}`);
}
main().catch((e) => { console.error(e); process.exit(1); });
