// Hand-written fixture texts for the tokenizer tests (see gen-fixtures.js).
// Each exercises a part of the pre-tokenizer regexes, the normalizers, the
// added-token matching or the byte fallback.
'use strict';

module.exports = [
  // empty and whitespace only
  '', ' ', '  ', '\t', '\n', '\r\n', ' \n', '\n ', '\n\n\n', ' \t \n \r\n ', '   \n\n   ', '\u00a0', ' \u00a0 ',
  // single words, leading/trailing/inner space runs
  'Hello', ' Hello', 'Hello ', '  Hello', 'Hello  world', 'Hello   world   ', '       grabbed',
  'a b  c   d    e     f', 'word\t\tword', '\tindented\n\t\tmore', 'trailing spaces   \nnext line',
  // CRLF and mixed newlines
  'line one\r\nline two\r\n', 'a\r\rb\n\rc', 'para one\n\npara two\r\n\r\n\r\npara three', 'x \r\n y', '  \r\n  z',
  // contractions in all cases
  "it's they're we've I'm you'll he'd can't", "IT'S THEY'RE WE'VE I'M YOU'LL HE'D CAN'T",
  "It'S They'Re We'vE I'M You'Ll He'D", "'s 't 're 've 'm 'll 'd", "'S'T'RE'VE'M'LL'D", "rock 'n' roll", "o'clock 'twas",
  "don''t", "'", "''", "it'ſ", "dog's bone's", "''ll", "'Ll'lL",
  // numbers and decimals
  '0', '12', '123', '1234', '12345678901234567890', '3.14159', '-2.5e-10', '1,000,000.00', '$19.99 and 45%',
  'version 1.2.3-rc4', '2024-09-01T12:34:56Z', 'x1y22z333w4444', '٣٤٥ ١٢', '½ ¾ ² ³ Ⅻ ⅷ', '①②③', '10⁶ km²',
  // code
  'def f(x):\n    return x ** 2  # square\n', 'for (int i = 0; i < n; ++i) {\n\tsum += a[i];\n}',
  'package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Println("hi")\n}\n',
  '<div class="a">&nbsp;</div>', '{"key": [1, 2.5, null, true], "k2": "v"}', 'SELECT * FROM t WHERE a <> b;',
  '#!/bin/bash\nset -euo pipefail\necho "$HOME" | tr a-z A-Z', 'x:=y||z&&!w', '    \n    x = 1\n\n\n    y = 2',
  '/* comment */ // another\n', '@decorator\nclass A(B): pass', 'https://example.com/path?q=1&r=two#frag',
  // punctuation runs
  '...', '!!!???', 'Hello, world!', '"quoted" (paren) [bracket] {brace}', '—–-', '«guillemets» „low”', ' !x', ' ...\n\n',
  '#### heading\n', '* * *', 'a.b.c', ' ?!', ':-) ;-( <3',
  // CJK, full-width, Japanese, Korean
  '镇', '你好，世界！', '今日は良い天気ですね。', '한국어 텍스트입니다', 'ＡＢＣ　ｄｅｆ　１２３', '全角スペース　あり',
  '中文English混合123', 'カタカナﾊﾝｶｸ',
  // emoji, ZWJ sequences, flags, skin tones, variation selectors
  '🦙', '🦙Ꙋ', 'Ꙋ🦙', '👨‍👩‍👧‍👦 family', '👍🏽 ok', '🇫🇷🇩🇪', '❤️ love', 'a😀b😀c', ' 🎉🎉 ', '🏳️‍🌈',
  // combining marks, NFC-sensitive text
  'e\u0301', 'cafe\u0301 na\u0308ive', 'Å Å Å', '\u1100\u1161\u11a8', 'ﬁ ligature', 'x\u0300\u0301\u0302',
  '\u0301start', 'Ω Ω', 'ｶﾞ', '\u212bngstrom',
  // Arabic, Hebrew, Hindi, Thai, Cyrillic, Greek
  'مرحبا بالعالم', 'שלום עולם', 'नमस्ते दुनिया', 'สวัสดีชาวโลก', 'Привет, мир!', 'Γειά σου Κόσμε', 'ÀÉÎÕÜ àéîõü ß ẞ',
  // odd whitespace and invisible characters
  'a\u3000b', 'a\u2028b\u2029c', 'a\u0085b', 'a\u200bb', 'a\u2003\u2003b', 'x\u000by\u000cz', '\ufeffBOM', 'soft\u00adhyphen',
  // special tokens inside text
  '<|begin_of_text|>Hello', 'Hello<|end_of_text|>', '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>',
  '<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi<|im_end|>', '<|endoftext|>', 'a<|endoftext|>b',
  '<s>', '</s>', '<s>Hello</s>', 'Hello</s>world', ' <s> spaced </s> ', '<unk>', '<s><s></s>', '<|im_start', '<|im_start|',
  '<think>\nhmm\n</think>\nanswer', '<|reserved_special_token_0|><|reserved_special_token_250|>', '<0x0A>', '▁already▁metaspace',
  // long repetitive runs
  'a'.repeat(300), ' '.repeat(100) + 'x', '\n'.repeat(50), 'ab'.repeat(200), '1'.repeat(50), '!'.repeat(80), '🦙'.repeat(20),
];
