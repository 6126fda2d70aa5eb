#!/usr/bin/env node
// HF tokenizers (npm tokenizers) side of scripts/tokenizer/bench.sh:
// encodes every {"text": ...} row of a JSONL corpus sequentially
// (encode, one document at a time) and batched (encodeBatch over all
// documents, on a freshly loaded tokenizer so neither run starts with a warm
// cache), checks both give the same ids, writes them as {"input_ids": [...]}
// lines (the format of "longrecipe tokenize") and prints MB/s.
// Usage: node bench-hf.js NODE_MODULES TOKENIZER_JSON CORPUS_JSONL OUT_JSONL
'use strict';
const fs = require('fs');
const path = require('path');

async function main() {
  const [nm, tokFile, corpus, out] = process.argv.slice(2);
  const {Tokenizer} = require(path.join(path.resolve(nm), 'tokenizers'));
  const texts = fs.readFileSync(corpus, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l).text);
  const bytes = texts.reduce((n, t) => n + Buffer.byteLength(t), 0);
  const opts = {addSpecialTokens: false};

  let tok = Tokenizer.fromFile(tokFile);
  let t0 = process.hrtime.bigint();
  const seq = [];
  for (const t of texts) seq.push(Array.from((await tok.encode(t, null, opts)).getIds()));
  const seqS = Number(process.hrtime.bigint() - t0) / 1e9;

  tok = Tokenizer.fromFile(tokFile);
  t0 = process.hrtime.bigint();
  const enc = await tok.encodeBatch(texts, opts);
  const batchS = Number(process.hrtime.bigint() - t0) / 1e9;
  const batch = enc.map((e) => Array.from(e.getIds()));
  if (JSON.stringify(seq) !== JSON.stringify(batch)) throw new Error('encode and encodeBatch differ');
  fs.writeFileSync(out, batch.map((ids) => `{"input_ids": [${ids.join(', ')}]}\n`).join(''));
  console.log(`hf_seq_mbs=${(bytes / 1e6 / seqS).toFixed(3)} hf_batch_mbs=${(bytes / 1e6 / batchS).toFixed(3)} bytes=${bytes} docs=${texts.length}`);
}
main().catch((e) => { console.error(e); process.exit(1); });
