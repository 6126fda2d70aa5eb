// Fixture texts for the synthetic tokenizers' added tokens (gen-synthetic.js):
// single_word, lstrip, rstrip and normalized in different surroundings.
'use strict';

const toks = ['[SW]', '[LS]', '[RS]', '<|both|>', '[N]', '[SWLR]', '<|bos|>', '<|eos|>', '<|endoftext|>', ' spaced', 'NRM'];
const ctx = [(t) => t, (t) => `a ${t} b`, (t) => `a${t}b`, (t) => `  ${t}  `, (t) => `x\t\n${t}\n\ty`, (t) => `é${t}`, (t) => `${t}7`,
  (t) => `${t}${t}`, (t) => `${t} ${t}`, (t) => `.${t}.`, (t) => `word   ${t}   word`];
const out = [];
for (const t of toks) for (const c of ctx) out.push(c(t));
out.push('[LS]x', ' [LS]x', '[LS]xx', '[RS] [LS]', 'a [RS]  [LS] b', '[SW]é', 'ß[SW]', '\u00a0[LS]\u00a0', '[RS]\u3000x',
  '<|both|><|both|>', '  <|both|>  <|both|>  ', 'spaced spaced', ' spaced', 'NRM   NRM', 'e\u0301[N]e\u0301');
module.exports = out;
