// texts.js - the texts of hlz's tokenizer test vectors: hand-written samples
// (prose, code, other scripts, emoji, numbers, whitespace, punctuation) and
// generated families (digit runs, whitespace runs, contraction cases). The
// list is deterministic; vectors.js tokenizes it with each reference.
"use strict";

const samples = [
  // ---- English prose
  "Hello world",
  "Hello, world! How are you today?",
  "The quick brown fox jumps over the lazy dog.",
  "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of foolishness.",
  "Call me Ishmael. Some years ago - never mind how long precisely - having little or no money in my purse, I thought I would sail about a little.",
  "In 1969, Neil Armstrong became the first person to walk on the Moon.",
  "She said, \"I'm not sure that's what they'd want,\" and left.",
  "Mr. O'Neil's dog isn't here; it's at the vet's.",
  "e.g. i.e. etc. vs. a.m. p.m. U.S.A.",
  "A lossless compressor codes text with a language model: the transformer predicts the next token.",
  "hyphen-ated words, em\u2014dashes, en\u2013dashes and \u201Ccurly quotes\u201D \u2018too\u2019.",
  "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore.",
  "ALL CAPS SENTENCE WITH SHOUTING!!!",
  "camelCaseIdentifier snake_case_identifier kebab-case-identifier SCREAMING_SNAKE",
  "supercalifragilisticexpialidocious antidisestablishmentarianism",
  "   leading spaces",
  "trailing spaces   ",
  "\ttab at start",
  "single",
  "a",
  " ",
  "  ",
  "x y",
  "\n",
  "\n\n\n",
  "word\n",
  // ---- contractions and quotes
  "DON'T STOP, I'M SURE WE'LL BE FINE, THEY'RE HERE, YOU'VE WON, HE'D GO",
  "don't stop, i'm sure we'll be fine, they're here, you've won, he'd go",
  "Don'T, I'M, We'Re, You'Ve, They'Ll, She'D, It'S",
  "'s 't 're 've 'm 'll 'd 'S 'T 'RE 'VE 'M 'LL 'D",
  "rock 'n' roll, 'tis, 'twas, y'all, o'clock",
  "''quoted'' and '''triple''' and ' spaced '",
  "the cat's toy, the cats' toys, James's book",
  "it\u2019s a curly apostrophe\u2019s case",
  // ---- numbers
  "0",
  "42",
  "123",
  "1234",
  "12345678901234567890",
  "3.14159265358979323846",
  "1,000,000 and 1.000.000 and 1 000 000",
  "Call +1 (555) 123-4567 or 555.123.4567",
  "Dates: 2024-01-31, 31/01/2024, Jan 31st, 2024",
  "Version 1.2.3-beta.4+build.567",
  "x1y22z333w4444",
  "abc123def",
  "0x1F 0b1010 0o777 1e-10 6.02e23",
  "\u00BD \u00BC \u00BE \u00B2 \u00B3 \u00B9",
  "\u2160 \u2161 \u2162 \u2163 Roman numerals",
  "\u0661\u0662\u0663 \u0967\u0968\u0969 \uFF11\uFF12\uFF13 fullwidth",
  "$100.00 \u20AC50 \u00A330 \u00A51000",
  "100% 50\u00B0C -40\u00B0F 3\u00D74=12",
  // ---- code
  "int main(void) { return 0; }",
  "#include <stdio.h>\n\nint main(int argc, char **argv)\n{\n    printf(\"hello, %s\\n\", argv[0]);\n    return 0;\n}\n",
  "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
  "for (let i = 0; i < 10; i++) {\n\tconsole.log(`value: ${i}`);\n}",
  "fn main() -> Result<(), Box<dyn Error>> {\n    let v: Vec<u8> = vec![1, 2, 3];\n    Ok(())\n}",
  "SELECT id, name FROM users WHERE age >= 18 ORDER BY name DESC;",
  "<html>\n  <body class=\"main\">\n    <p>Hi &amp; bye</p>\n  </body>\n</html>",
  "{\"key\": \"value\", \"list\": [1, 2.5, true, null], \"nested\": {\"a\": \"b\"}}",
  "if [ -f \"$HOME/.bashrc\" ]; then\n  . \"$HOME/.bashrc\"\nfi",
  "x += y * (z - 1) / 2 ** 3 % 4; a && b || !c; p->q; i++; --j;",
  "a==b!=c<=d>=e<<f>>g===h!==i=>j->k::l",
  "    indented four\n        indented eight\n\tindented tab",
  "// comment\n/* block */\n# hash comment\n-- sql comment",
  "https://example.com/path/to/page?query=1&other=two#anchor",
  "user.name+tag@example.co.uk",
  "C:\\Users\\name\\Documents\\file.txt",
  "~/src/hlz $ make -j8 && ./build/hlz -c input.txt",
  "git commit -m \"Fix bug #123\"",
  "@decorator\nclass Foo(Bar):\n    __slots__ = ('a', 'b')\n",
  "matrix = [[1, 0], [0, 1]]",
  "// TODO(user): handle the edge-case where n == 0",
  "| col1 | col2 |\n|------|------|\n| a    | b    |",
  "# Heading\n\n* item one\n* item two\n\n**bold** _italic_ `code`",
  "$ x^2 + y^2 = z^2 $ and \\frac{a}{b} \\sum_{i=0}^{n} i",
  // ---- other scripts
  "\u4F60\u597D\uFF0C\u4E16\u754C\uFF01\u4ECA\u5929\u5929\u6C14\u5F88\u597D\u3002",
  "\u673A\u5668\u5B66\u4E60\u662F\u4EBA\u5DE5\u667A\u80FD\u7684\u4E00\u4E2A\u5206\u652F\u3002",
  "\u65E5\u672C\u8A9E\u306E\u30C6\u30AD\u30B9\u30C8\u3067\u3059\u3002\u3072\u3089\u304C\u306A\u3068\u30AB\u30BF\u30AB\u30CA\u3068\u6F22\u5B57\u3002",
  "\uD55C\uAD6D\uC5B4 \uD14D\uC2A4\uD2B8\uC785\uB2C8\uB2E4. \uC548\uB155\uD558\uC138\uC694!",
  "\u041F\u0440\u0438\u0432\u0435\u0442, \u043C\u0438\u0440! \u041A\u0430\u043A \u0434\u0435\u043B\u0430?",
  "\u041C\u043E\u0441\u043A\u0432\u0430 \u2014 \u0441\u0442\u043E\u043B\u0438\u0446\u0430 \u0420\u043E\u0441\u0441\u0438\u0438, \u043D\u0430\u0441\u0435\u043B\u0435\u043D\u0438\u0435 13 \u043C\u043B\u043D.",
  "\u0645\u0631\u062D\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645! \u0643\u064A\u0641 \u062D\u0627\u0644\u0643\u061F",
  "\u0627\u0644\u0644\u063A\u0629 \u0627\u0644\u0639\u0631\u0628\u064A\u0629 \u062C\u0645\u064A\u0644\u0629 \u062C\u062F\u0627\u064B.",
  "\u0928\u092E\u0938\u094D\u0924\u0947 \u0926\u0941\u0928\u093F\u092F\u093E! \u0906\u092A \u0915\u0948\u0938\u0947 \u0939\u0948\u0902?",
  "\u0939\u093F\u0928\u094D\u0926\u0940 \u092D\u093E\u0930\u0924 \u0915\u0940 \u0930\u093E\u091C\u092D\u093E\u0937\u093E \u0939\u0948\u0964",
  "\u0393\u03B5\u03B9\u03AC \u03C3\u03BF\u03C5 \u03BA\u03CC\u03C3\u03BC\u03B5! \u0391\u03B8\u03AE\u03BD\u03B1",
  "\u05E9\u05DC\u05D5\u05DD \u05E2\u05D5\u05DC\u05DD",
  "\u0E2A\u0E27\u0E31\u0E2A\u0E14\u0E35\u0E04\u0E23\u0E31\u0E1A \u0E42\u0E25\u0E01",
  "Ti\u1EBFng Vi\u1EC7t c\u00F3 d\u1EA5u: \u0111\u01B0\u1EE3c, ng\u01B0\u1EDDi, Vi\u1EC7t Nam.",
  "T\u00FCrk\u00E7e: \u0130stanbul, \u0131\u015F\u0131k, \u00E7ok g\u00FCzel.",
  "Deutsch: Gr\u00FC\u00DFe aus M\u00FCnchen, sch\u00F6ne Stra\u00DFe.",
  "Fran\u00E7ais : l'\u00E9t\u00E9, o\u00F9 \u00EAtes-vous ? \u00C7a va.",
  "Espa\u00F1ol: \u00BFD\u00F3nde est\u00E1 la biblioteca? \u00A1Ol\u00E9!",
  "Polski: Za\u017C\u00F3\u0142\u0107 g\u0119\u015Bl\u0105 ja\u017A\u0144.",
  "\u10E5\u10D0\u10E0\u10D7\u10E3\u10DA\u10D8 \u0540\u0561\u0575\u0565\u0580\u0565\u0576 \u12A0\u121B\u122D\u129B",
  "\u0BA4\u0BAE\u0BBF\u0BB4\u0BCD \u09AC\u09BE\u0982\u09B2\u09BE \u0C24\u0C46\u0C32\u0C41\u0C17\u0C41",
  "mixed \u4E2D\u6587English\u65E5\u672C\u8A9Ewords\u0420\u0443\u0441\u0441\u043A\u0438\u0439",
  "\u4E2D\u65872024\u5E74\u7B2C3\u5B63\u5EA6",
  // ---- emoji and symbols
  "I love it \u2764\uFE0F\uD83D\uDE00\uD83D\uDE02\uD83D\uDC4D",
  "\uD83D\uDC68\u200D\uD83D\uDC69\u200D\uD83D\uDC67\u200D\uD83D\uDC66 family, \uD83D\uDC4B\uD83C\uDFFD wave",
  "\uD83C\uDDFA\uD83C\uDDF8 \uD83C\uDDEF\uD83C\uDDF5 \uD83C\uDDE9\uD83C\uDDEA flags",
  "\uD83D\uDE80\uD83D\uDE80\uD83D\uDE80 to the moon",
  "emoji\uD83D\uDE0Aglued\uD83C\uDF89together",
  "\u2192 \u2190 \u2191 \u2193 \u21D2 \u2200x \u2203y \u2208 \u2211 \u222B \u221E \u2260 \u2264",
  "\u00A9 \u00AE \u2122 \u00A7 \u00B6 \u2020 \u2021 \u2022 \u2026",
  "\u266A\u266B \u2600\uFE0F \u2601 \u2602 \u2603",
  "\uD835\uDC00\uD835\uDC01\uD835\uDC02 math bold letters",
  // ---- punctuation runs
  "Wait... what?!?! No way!!!",
  "---\n***\n___\n===",
  "((((nested))))  [[[[x]]]]  {{{{y}}}}",
  "<<<>>> ... ,,, ;;; ::: ???",
  "....................",
  "!!!\n\n???",
  "\"\"\"docstring\"\"\"",
  "a-b_c.d,e;f:g!h?i",
  "(see p. 12)",
  // ---- whitespace
  "two  spaces",
  "three   spaces",
  "many          spaces",
  "tab\tseparated\tvalues",
  "tabs\t\t\tand  spaces \t mixed",
  "line one\nline two\nline three",
  "windows\r\nline\r\nendings\r\n",
  "old mac\rline\rendings",
  "blank\n\nlines\n\n\nhere",
  "trailing whitespace   \n  leading whitespace",
  " \n \n \n",
  "\t\n\t\n",
  "end with newline and spaces\n   ",
  "\r\n\r\n",
  "a \n b",
  "word \r\n next",
  "x\u00A0y non-breaking space",
  "ideographic\u3000space",
  "thin\u2009space and em\u2003space",
  "vertical\u000Btab and form\u000Cfeed",
  // ---- mixed
  "Q: What's 2+2?\nA: It's 4.",
  "Name:\tJohn Doe\nAge:\t42\nEmail:\tjohn@example.com",
  "ERROR 2024-05-01T12:34:56Z [main] failed to open '/tmp/x.txt': No such file",
  "<|not_special|> [INST] not a template [/INST]",
  "I said \"DON'T!\" -- and he didn't.",
];

// ---- longer documents (a few hundred bytes to a few kilobytes)
const documents = [
  "The history of data compression is a history of models. Huffman coding, published in 1952, assigns short codes to " +
    "frequent symbols; arithmetic coding, developed in the 1970s, removes the rounding loss of whole-bit codes. What " +
    "remained was the question of prediction: how likely is the next symbol, given everything that came before?\n\n" +
    "Context mixing compressors such as PAQ answered it with many small models whose predictions are blended by a " +
    "neural network. Language models answer it with one large network trained on a great deal of text. Either way, " +
    "the coder spends about -log2(p) bits on a symbol of probability p, so a better predictor means a smaller file.\n",
  "/*\n * ring.c - a fixed-size ring buffer.\n */\n#include <stdint.h>\n#include <string.h>\n\n" +
    "typedef struct {\n    uint8_t *data;\n    size_t capacity, head, tail;\n} ring;\n\n" +
    "/* Copies up to n bytes in; returns how many fit. */\nsize_t ring_put(ring *r, const void *src, size_t n)\n{\n" +
    "    size_t room = r->capacity - (r->head - r->tail);\n    if (n > room) n = room;\n" +
    "    for (size_t i = 0; i < n; i++) r->data[(r->head + i) % r->capacity] = ((const uint8_t *)src)[i];\n" +
    "    r->head += n;\n    return n;\n}\n",
  "import json\nfrom pathlib import Path\n\n\ndef load(path: str) -> dict:\n    \"\"\"Reads a JSON file.\"\"\"\n" +
    "    with open(path, encoding=\"utf-8\") as f:\n        return json.load(f)\n\n\nif __name__ == \"__main__\":\n" +
    "    for p in sorted(Path(\".\").glob(\"*.json\")):\n        data = load(p)\n        print(f\"{p.name:30s} {len(data):6d}\")\n",
  "{\n  \"name\": \"hlz\",\n  \"version\": \"0.1.0\",\n  \"chunks\": [\n    {\"offset\": 0, \"size\": 1048576, \"codec\": \"zstd\"},\n" +
    "    {\"offset\": 1048576, \"size\": 524288, \"codec\": \"store\"}\n  ],\n  \"checksum\": \"0x9e3779b97f4a7c15\"\n}\n",
  "\u6570\u636E\u538B\u7F29\u662F\u6307\u5728\u4E0D\u4E22\u5931\u6709\u7528\u4FE1\u606F\u7684\u524D\u63D0\u4E0B\uFF0C" +
    "\u7F29\u51CF\u6570\u636E\u91CF\u4EE5\u51CF\u5C11\u5B58\u50A8\u7A7A\u95F4\uFF0C\u63D0\u9AD8\u5176\u4F20\u8F93\u3001" +
    "\u5B58\u50A8\u548C\u5904\u7406\u6548\u7387\u7684\u4E00\u79CD\u6280\u672F\u65B9\u6CD5\u3002\u65E0\u635F\u538B\u7F29" +
    "\u53EF\u4EE5\u5B8C\u5168\u6062\u590D\u539F\u59CB\u6570\u636E\uFF1B\u6709\u635F\u538B\u7F29\u5219\u4E0D\u80FD\u3002",
  "\u0421\u0436\u0430\u0442\u0438\u0435 \u0434\u0430\u043D\u043D\u044B\u0445 \u2014 \u0430\u043B\u0433\u043E\u0440\u0438\u0442\u043C\u0438\u0447\u0435\u0441\u043A\u043E\u0435 " +
    "\u043F\u0440\u0435\u043E\u0431\u0440\u0430\u0437\u043E\u0432\u0430\u043D\u0438\u0435 \u0434\u0430\u043D\u043D\u044B\u0445, \u043F\u0440\u043E\u0438\u0437\u0432\u043E\u0434\u0438\u043C\u043E\u0435 " +
    "\u0441 \u0446\u0435\u043B\u044C\u044E \u0443\u043C\u0435\u043D\u044C\u0448\u0435\u043D\u0438\u044F \u0437\u0430\u043D\u0438\u043C\u0430\u0435\u043C\u043E\u0433\u043E \u0438\u043C\u0438 \u043E\u0431\u044A\u0451\u043C\u0430. " +
    "\u0412 1977 \u0433\u043E\u0434\u0443 \u0410\u0431\u0440\u0430\u0445\u0430\u043C \u041B\u0435\u043C\u043F\u0435\u043B\u044C \u0438 \u042F\u043A\u043E\u0432 \u0417\u0438\u0432 \u043E\u043F\u0443\u0431\u043B\u0438\u043A\u043E\u0432\u0430\u043B\u0438 LZ77.",
  "# Release notes\n\n## 0.2.0 (2024-06-01)\n\n- **New:** `--model PATH` loads any GGUF model.\n" +
    "- Fixed: chunks of exactly 64 KiB were stored twice (#42).\n- Faster: 2.3x on 8 threads.\n\n" +
    "> Note: archives made by 0.1.x still decode.\n\n```sh\n$ hlz -9 --model tiny.gguf notes.txt\n```\n",
  "                                        forty spaces, then text\n\n\n\n\n\n\n\n\n\n ten newlines before",
  "3141592653589793238462643383279502884197169399375105820974944592307816406286208998628034825342117067982148086513282306647",
  "!!!!!!!!!!!!!!!!!!!!?????????????????????..........,,,,,,,,,,----------==========##########**********",
  "TWFueSBoYW5kcyBtYWtlIGxpZ2h0IHdvcmsuIFRoaXMgaXMgYSBiYXNlNjQgYmxvYi4gSXQgaGFzIG5vIHNwYWNlcyBhdCBhbGwgYW5kIGdvZXMgb24gZm9yIGEgd2hpbGUu",
  "00000000  7f 45 4c 46 02 01 01 00  00 00 00 00 00 00 00 00  |.ELF............|\n" +
    "00000010  03 00 3e 00 01 00 00 00  60 10 00 00 00 00 00 00  |..>.....`.......|\n",
  "Row\tName\tScore\r\n1\tAlice\t93.5\r\n2\tBob\t88.0\r\n3\tCarol\t\t(absent)\r\n",
  "\u0627\u0644\u0636\u063A\u0637 \u0647\u0648 \u062A\u0642\u0644\u064A\u0644 \u062D\u062C\u0645 \u0627\u0644\u0628\u064A\u0627\u0646\u0627\u062A. " +
    "\u0915\u092E\u094D\u092A\u094D\u0930\u0947\u0936\u0928 \u0921\u0947\u091F\u093E \u0915\u093E \u0906\u0915\u093E\u0930 \u0918\u091F\u093E\u0924\u093E \u0939\u0948\u0964 " +
    "\u5727\u7E2E\u306F\u30C7\u30FC\u30BF\u3092\u5C0F\u3055\u304F\u3059\u308B\u3002 \uC555\uCD95\uC740 \uB370\uC774\uD130\uB97C \uC904\uC785\uB2C8\uB2E4. \uD83D\uDCE6\u27A1\uFE0F\uD83D\uDDDC\uFE0F",
];

// ---- generated families
function generated() {
  const out = [];
  // digit runs: \p{N}{1,3} and \p{N} group digits differently
  for (let n = 1; n <= 13; n++) {
    let s = "";
    for (let i = 0; i < n; i++) s += String((i * 7 + 3) % 10);
    out.push(s);
    out.push("abc " + s + " def");
  }
  // whitespace runs before words, digits, punctuation and line ends
  const spaces = [" ", "  ", "   ", "\t", " \t", "\t ", "\n", "\n\n", " \n", "\n ", "\r\n", " \r\n ", "\n\t", "  \n\n  "];
  const after = ["word", "42", "!?", "\u4E2D", ""];
  for (const s of spaces)
    for (const a of after) out.push("x" + s + a);
  for (const s of spaces) out.push(s + "start");
  // contractions in every case, at word ends and alone
  const tails = ["s", "t", "re", "ve", "m", "ll", "d"];
  for (const t of tails) {
    const forms = new Set([t, t.toUpperCase(), t[0].toUpperCase() + t.slice(1), t.length > 1 ? t[0] + t[1].toUpperCase() : t]);
    for (const f of forms) out.push("they'" + f + " " + "THEY'" + f + " '" + f + "x");
  }
  // punctuation followed by line breaks (Llama 3's [\r\n]* tail)
  for (const p of [".", "!!", "...", ":", ")", "};"])
    for (const nl of ["\n", "\n\n", "\r\n", " \n"]) out.push("end" + p + nl + "next");
  // a letter after a non-letter, non-digit character (Llama 3's [^\r\n\p{L}\p{N}]?\p{L}+)
  for (const c of ["(", "\"", "$", "_", "#", "@", "-", "\t", "\u00A0", "\u2014", "1"]) out.push(c + "word " + c + "Word");
  return out;
}

// Texts whose reference ids hlz does not reproduce on purpose; test_tokenizer.c
// lists and counts them (see its comment).
const known_differences = [
  "cafe\u0301 re\u0301sume\u0301 (decomposed accents: Qwen's NFC normalizer)",
  "a\u2581b literal lower one eighth block (llama kind: spelled with bytes)",
  "next\u0085\u0085line and zero\uFEFF\uFEFF width (\\s: Unicode White_Space vs JavaScript)",
];

module.exports = function texts() {
  return samples.concat(documents, generated(), known_differences);
};
