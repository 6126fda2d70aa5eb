#!/usr/bin/env node
// Builds small synthetic tokenizer.json files that exercise what the real
// files do not: the GPT-2 Split regex (our own trainer's layout), ByteLevel
// with use_regex/add_prefix_space, added tokens with single_word, lstrip,
// rstrip and normalized, and a TemplateProcessing with BOS and EOS.
// Vocab and merges are the first 3000 merges of a real byte-level file
// (Qwen3's, Apache-2.0), so the files stay small.
//
// Usage: node scripts/tokenizer/gen-synthetic.js QWEN_TOKENIZER_JSON[.gz] OUT_DIR
// then run gen-fixtures.js on the written files.
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const [src, outDir] = process.argv.slice(2);
if (!src || !outDir) {
  console.error('usage: gen-synthetic.js QWEN_TOKENIZER_JSON[.gz] OUT_DIR');
  process.exit(2);
}
let raw = fs.readFileSync(src);
if (src.endsWith('.gz')) raw = zlib.gunzipSync(raw);
const q = JSON.parse(raw);

// Vocab: the 256 byte-level characters (ids 0..255 as in Qwen) plus the
// results of the first merges, keeping only merges whose parts are known.
const vocab = {};
let next = 0;
for (const [tok, id] of Object.entries(q.model.vocab)) if (id < 256) vocab[tok] = id;
next = 256;
const merges = [];
for (const m of q.model.merges) {
  if (merges.length >= 3000) break;
  const [a, b] = Array.isArray(m) ? m : m.split(' ');
  if (!(a in vocab) || !(b in vocab)) continue;
  if (!((a + b) in vocab)) vocab[a + b] = next++;
  merges.push(`${a} ${b}`);
}

function added(content, opts) {
  return Object.assign({id: next++, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: false}, opts);
}
const byteLevel = {type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false};
const gpt2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

// A: NFC + Split(GPT-2 regex) + ByteLevel, BOS and EOS template.
const baseNext = next;
const addedA = [
  added('<|bos|>', {special: true}), added('<|eos|>', {special: true}),
  added('[SW]', {single_word: true}), added('[LS]', {lstrip: true}), added('[RS]', {rstrip: true}),
  added('<|both|>', {lstrip: true, rstrip: true, special: true}), added('[N]', {normalized: true}),
  added('[SWLR]', {single_word: true, lstrip: true, rstrip: true}), added('[LS]x', {}),
];
const A = {
  version: '1.0', truncation: null, padding: null, added_tokens: addedA,
  normalizer: {type: 'NFC'},
  pre_tokenizer: {type: 'Sequence', pretokenizers: [
    {type: 'Split', pattern: {Regex: gpt2}, behavior: 'Isolated', invert: false}, byteLevel]},
  post_processor: {type: 'TemplateProcessing',
    single: [{SpecialToken: {id: '<|bos|>', type_id: 0}}, {Sequence: {id: 'A', type_id: 0}}, {SpecialToken: {id: '<|eos|>', type_id: 0}}],
    pair: [{Sequence: {id: 'A', type_id: 0}}, {Sequence: {id: 'B', type_id: 1}}],
    special_tokens: {'<|bos|>': {id: '<|bos|>', ids: [addedA[0].id], tokens: ['<|bos|>']},
      '<|eos|>': {id: '<|eos|>', ids: [addedA[1].id], tokens: ['<|eos|>']}}},
  decoder: byteLevel,
  model: {type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
    fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges},
};

// B: GPT-2's original layout: ByteLevel(add_prefix_space, use_regex) alone,
// normalized added tokens, ignore_merges.
next = baseNext;
const addedB = [added('<|endoftext|>', {special: true}), added(' spaced', {normalized: true}), added('NRM', {normalized: true, rstrip: true})];
const B = JSON.parse(JSON.stringify(A));
B.added_tokens = addedB;
B.normalizer = null;
B.pre_tokenizer = {type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true};
B.post_processor = {type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true};
B.model.ignore_merges = true;
B.model.merges = merges.map((m) => m.split(' ')); // the newer [a, b] format

fs.writeFileSync(path.join(outDir, 'synth-a-tokenizer.json'), JSON.stringify(A));
fs.writeFileSync(path.join(outDir, 'synth-b-tokenizer.json'), JSON.stringify(B));
console.log(`vocab ${Object.keys(vocab).length}, merges ${merges.length}`);
