// Generates the Hugging Face reference fixtures of tokenizer/bpetrain:
//   testdata/hf_pretok.json  GPT-2 Split pre-tokenization of tricky strings
//   testdata/hf_pretok_random.json  the same for 1500 random strings (seeded)
//   testdata/hf_ids.json     ids of sample texts under assets/tokenizer.json
//   testdata/hf_ids_small.json  the same under testdata/small.json (no specials)
// Reference: npm "tokenizers" 0.23.2 (Hugging Face's Rust library).
// Usage: bash scripts/assets/hf_fixtures.sh  (installs it in a scratch folder)
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const {Tokenizer} = require('tokenizers');

const root = path.resolve(__dirname, '..', '..');
const out = path.join(root, 'tokenizer', 'bpetrain', 'testdata');
fs.mkdirSync(out, {recursive: true});

const pattern = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
const splitOnly = Tokenizer.fromString(JSON.stringify({
  version: '1.0', truncation: null, padding: null, added_tokens: [], normalizer: null,
  pre_tokenizer: {type: 'Split', pattern: {Regex: pattern}, behavior: 'Isolated', invert: false},
  post_processor: null, decoder: null,
  model: {type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null,
    end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab: {}, merges: []},
}));

const tricky = [
  "", "a", " ", "  ", "\n", " \n", "\n ", "a  b", "a   b", "a \n b", "a\n\n\nb", "a \t\n  ", "end   ",
  "Hello world", "Hello  world's", "I'm, you're, we've, they'll, he'd, it's, don't",
  "I'M SHOUTING'S 'S 'Re", "''s ''", "'", "'x", "'ll'", " 'll", "don't've",
  "1790, 1,000,000 and 3.14159 $211,8 4 1/2 per cent.", "x1y2 z3", " 123abc", "½ ⅓ Ⅻ ²",
  "e\u0301t\u00e9", "na\u00efve caf\u00e9", "日本語のテキスト", "Привет, мир!", "مرحبا بالعالم",
  "emoji 🎉🎉 and ❤️ mixed", "tabs\tand\u00a0nbsp\u2003em\u3000ideographic", "line\u2028sep\u2029par",
  "ctrl\u0002char\u0007bell", "(parens) [brackets] {braces} <angle>", "-- em—dash – en", "“quoted” ‘single’",
  "   leading", "trailing   ", " ?!", "?! ", "a!b@c#d", "\r\n\r\nwindows\r\n", "x \u0085 y",
];

const docs = zlib.gunzipSync(fs.readFileSync(path.join(root, 'assets', 'sotu.jsonl.gz')))
  .toString('utf8').trim().split('\n').map((l) => JSON.parse(l));
const byId = Object.fromEntries(docs.map((d) => [d.id, d]));
const excerpt = (id, start, n) => byId[id].text.slice(start, start + n);
const samples = tricky.concat([
  excerpt('1790_george_washington_n', 0, 3000),
  excerpt('1890_benjamin_harrison_r', 0, 3000),
  excerpt('1946_harry_s_truman_d', 100000, 3000),
  excerpt('2021_joseph_r_biden_d', 0, 3000),
  "<|bos|>Hello<|eos|> world <|pad|><|pad|>and <|unknown|>",
]);

(async () => {
  const pretok = samples.map((text) => ({
    text,
    pieces: splitOnly.getPreTokenizer().preTokenizeString(text).map((p) => p[0]),
  }));
  fs.writeFileSync(path.join(out, 'hf_pretok.json'), JSON.stringify(pretok, null, 1) + '\n');

  // Random strings over a pool of characters from every class the pattern
  // tells apart (mulberry32 PRNG, fixed seed, so reruns give the same file).
  let seed = 20240901;
  const rand = () => {
    seed = (seed + 0x6D2B79F5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pool = [' ', ' ', ' ', '\n', '\t', '\r', '\u00a0', '\u2003', '\u0085', "'", "'", '’', 's', 't', 'r', 'e',
    'v', 'm', 'l', 'd', 'S', 'a', 'Z', 'é', 'ж', '日', '0', '7', '½', 'Ⅻ', '²', ',', '.', '!', '$', '-', '\u0301',
    '🎉', '\u0002', '_'];
  const random = [];
  for (let i = 0; i < 1500; i++) {
    let s = '';
    const n = 1 + Math.floor(rand() * 24);
    for (let j = 0; j < n; j++) s += pool[Math.floor(rand() * pool.length)];
    random.push({text: s, pieces: splitOnly.getPreTokenizer().preTokenizeString(s).map((p) => p[0])});
  }
  fs.writeFileSync(path.join(out, 'hf_pretok_random.json'), JSON.stringify(random) + '\n');

  for (const [file, name] of [[path.join(root, 'assets', 'tokenizer.json'), 'hf_ids.json'],
    [path.join(out, 'small.json'), 'hf_ids_small.json']]) {
    const tok = Tokenizer.fromFile(file);
    const ids = [];
    for (const text of samples) {
      const withBOS = (await tok.encode(text, null, {addSpecialTokens: true})).getIds();
      const plain = (await tok.encode(text, null, {addSpecialTokens: false})).getIds();
      const decoded = await tok.decode(plain, false);
      if (decoded !== text) throw new Error(file + ': HF does not round-trip ' + JSON.stringify(text));
      ids.push({text, ids: plain, ids_bos: withBOS});
    }
    fs.writeFileSync(path.join(out, name), JSON.stringify(ids) + '\n');
    console.log('wrote', ids.length, 'encodings to', name);
  }
  console.log('wrote', pretok.length, 'pre-tokenization cases');
})().catch((e) => { console.error(e); process.exit(1); });
