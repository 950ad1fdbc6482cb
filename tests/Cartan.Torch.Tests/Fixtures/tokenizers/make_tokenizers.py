#!/usr/bin/python3
"""Independent reference for Cartan.Torch's HfTokenizer (Microsoft.ML.Tokenizers underneath).

Pure Python 3 (standard library only), written from the published algorithms, not from any .NET code:

* minilm/vocab.txt (BERT uncased WordPiece, the embedded default all-MiniLM-L6-v2's vocabulary, Apache-2.0):
  BERT's BasicTokenizer (clean, CJK spacing, lower case, strip accents, split punctuation) followed by greedy
  longest-match-first WordPiece with '##' continuations, wrapped in [CLS] ... [SEP].
* bpe/vocab.json + bpe/merges.txt: a small GPT-2-style byte-level BPE trained here on CORPUS (most frequent pair,
  ties broken lexicographically), and encoded with GPT-2's algorithm (pre-tokenisation regex, bytes-to-unicode map,
  lowest-rank merge first).
* spm/tokenizer.model: a SentencePiece BPE model (protobuf ModelProto written by hand below) with byte fallback,
  trained here the same way on '\u2581'-escaped text; encoded with SentencePiece's BPE rule (repeatedly merge the
  adjacent pair whose merged piece has the highest score, leftmost first; unknown characters fall back to
  <0xXX> byte pieces), with a dummy '\u2581' prefix and <s> in front.

Writes golden.json: for each tokenizer and each text of TEXTS, the expected ids.
Run: /usr/bin/python3 make_tokenizers.py   (from this folder)
"""
import json
import os
import re
import struct
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))

TEXTS = [
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "Tokenisers aren't trivial: 3.14159 x 2 = 6.28318",
    "na\u00efve caf\u00e9 r\u00e9sum\u00e9 \u00dcn\u00efc\u00f6d\u00e9",
    "unbelievably hyperparameterization antidisestablishmentarianism",
    "  leading and  double  spaces ",
    "\u4e2d\u6587 \u5b57\u7b26 mixed with English",
    "don't can't I'm you're we've they'll he'd",
    "tabs\tand\nnewlines\r\nhere",
    "the the the theatre thermal other",
    "a+b=c, $5 <tag> |pipe| ~tilde^ `tick` 50% #hash @at",
    "emoji \U0001F642 and \u00d7 sign, \u00bfqu\u00e9? \u201cquoted\u201d \u2014 dash",
    "\ud55c\uad6d\uc5b4 \u1f00\u03bb\u03ae\u03b8\u03b5\u03b9\u03b1 \u03a9\u03bc\u03ad\u03b3\u03b1 \u0130stanbul \u00c5ngstr\u00f6m \u212b \u039f\u0394\u03a5\u03a3\u03a3\u0395\u03a5\u03a3 \u03a3",
]

CORPUS = (
    "the quick brown fox jumps over the lazy dog. the dog sleeps; the fox runs. "
    "hello world, hello there. they said the weather was rather hot, and then the rain came. "
    "tokenisers split text into pieces; pieces become ids; ids become vectors. "
    "numbers like 3.14159 and 2.71828 appear in mathematics and in physics. "
    "don't stop, we're nearly there, they'll see. other theatres, thermal baths, whether or not. "
) * 3


# ---------------------------------------------------------------- BERT WordPiece

def _is_punct(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF or 0x2A700 <= cp <= 0x2B73F
            or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def _is_ws(ch):
    return ch in " \t\n\r" or unicodedata.category(ch) == "Zs"


def _is_control(ch):
    if ch in "\t\n\r":
        return False
    return unicodedata.category(ch) in ("Cc", "Cf")


def bert_basic(text):
    out = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or _is_control(ch):
            continue
        if _is_ws(ch):
            out.append(" ")
        elif _is_cjk(cp):
            out.append(" " + ch + " ")
        else:
            out.append(ch)
    words = []
    for w in "".join(out).split():
        w = w.lower()
        w = "".join(c for c in unicodedata.normalize("NFD", w) if unicodedata.category(c) != "Mn")
        cur = ""
        for c in w:
            if _is_punct(c):
                if cur:
                    words.append(cur)
                words.append(c)
                cur = ""
            else:
                cur += c
        if cur:
            words.append(cur)
    return words


def wordpiece(words, vocab, max_chars=100):
    ids = []
    for w in words:
        if len(w) > max_chars:
            ids.append(vocab["[UNK]"])
            continue
        pieces, start, bad = [], 0, False
        while start < len(w):
            end, found = len(w), None
            while start < end:
                sub = w[start:end] if start == 0 else "##" + w[start:end]
                if sub in vocab:
                    found = sub
                    break
                end -= 1
            if found is None:
                bad = True
                break
            pieces.append(vocab[found])
            start = end
        ids.extend([vocab["[UNK]"]] if bad else pieces)
    return ids


def bert_encode(text, vocab):
    return [vocab["[CLS]"]] + wordpiece(bert_basic(text), vocab) + [vocab["[SEP]"]]


# ---------------------------------------------------------------- GPT-2 byte-level BPE

def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1)) + list(range(ord("\u00ae"), ord("\u00ff") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


# GPT-2's pattern with \p{L} spelled [^\W\d_] and \p{N} spelled \d (exact for the texts here: no letter-like
# numerics such as superscripts or fractions occur).
GPT2_PAT = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+""")
B2U = bytes_to_unicode()


def gpt2_words(text):
    return ["".join(B2U[b] for b in m.encode("utf-8")) for m in GPT2_PAT.findall(text)]


def train_bpe(words, n_merges):
    """words: list of symbol tuples with counts. Most frequent adjacent pair first, ties lexicographically smallest."""
    counts = {}
    for w in words:
        counts[w] = counts.get(w, 0) + 1
    merges = []
    for _ in range(n_merges):
        pairs = {}
        for w, c in counts.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] = pairs.get((a, b), 0) + c
        if not pairs:
            break
        best = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        merges.append(best)
        new = {}
        for w, c in counts.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new[tuple(out)] = new.get(tuple(out), 0) + c
        counts = new
    return merges


def bpe_word(word, ranks):
    syms = list(word)
    while len(syms) > 1:
        best, at = None, -1
        for i in range(len(syms) - 1):
            r = ranks.get((syms[i], syms[i + 1]))
            if r is not None and (best is None or r < best):
                best, at = r, i
        if best is None:
            break
        pair = (syms[at], syms[at + 1])
        out, i = [], 0
        while i < len(syms):
            if i + 1 < len(syms) and (syms[i], syms[i + 1]) == pair:
                out.append(syms[i] + syms[i + 1])
                i += 2
            else:
                out.append(syms[i])
                i += 1
        syms = out
    return syms


def make_gpt2_bpe(folder):
    words = [tuple(w) for w in gpt2_words(CORPUS)]
    merges = train_bpe(words, 160)
    vocab = {}
    for b in range(256):
        vocab[B2U[b]] = len(vocab)
    for a, b in merges:
        if a + b not in vocab:
            vocab[a + b] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write(a + " " + b + "\n")
    ranks = {m: i for i, m in enumerate(merges)}

    def encode(text):
        return [vocab[s] for w in gpt2_words(text) for s in bpe_word(w, ranks)]
    return encode, len(vocab)


# ---------------------------------------------------------------- SentencePiece BPE (protobuf by hand)

def _varint(n):
    out = b""
    if n < 0:
        n += 1 << 64
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def _field(num, wire, payload):
    key = _varint((num << 3) | wire)
    if wire == 0:
        return key + _varint(payload)
    if wire == 2:
        return key + _varint(len(payload)) + payload
    if wire == 5:
        return key + payload
    raise ValueError(wire)


def _str(num, s):
    return _field(num, 2, s.encode("utf-8"))


SPACE = "\u2581"


def make_spm(folder):
    # Pieces: <unk> <s> </s>, 256 byte pieces, then single characters and merges learned on the escaped corpus.
    text_words = [SPACE + w for w in CORPUS.split(" ") if w]
    merges = train_bpe([tuple(w) for w in text_words], 120)
    pieces = [("<unk>", 0.0, 2), ("<s>", 0.0, 3), ("</s>", 0.0, 3)]
    pieces += [("<0x%02X>" % b, 0.0, 6) for b in range(256)]
    chars = sorted({c for w in text_words for c in w})
    seen = {p[0] for p in pieces}
    score = 0.0
    learned = []
    for a, b in merges:
        if a + b not in seen:
            learned.append(a + b)
            seen.add(a + b)
    # SentencePiece BPE scores: merged pieces by merge order (earlier = higher), characters below them.
    for i, p in enumerate(learned):
        pieces.append((p, -float(i), 1))
    for i, c in enumerate(chars):
        if c not in seen:
            pieces.append((c, -float(len(learned) + i), 1))
            seen.add(c)
    proto = b""
    for p, s, t in pieces:
        proto += _field(1, 2, _str(1, p) + _field(2, 5, struct.pack("<f", s)) + _field(3, 0, t))
    trainer = (_field(3, 0, 2)            # model_type = BPE
               + _field(4, 0, len(pieces))  # vocab_size
               + _field(35, 0, 1)           # byte_fallback
               + _field(40, 0, 0) + _field(41, 0, 1) + _field(42, 0, 2) + _field(43, 0, -1)  # unk, bos, eos, pad ids
               + _str(45, "<unk>") + _str(46, "<s>") + _str(47, "</s>"))
    normalizer = (_str(1, "identity") + _field(3, 0, 1)   # add_dummy_prefix
                  + _field(4, 0, 0) + _field(5, 0, 1))     # remove_extra_whitespaces off, escape_whitespaces on
    proto += _field(2, 2, trainer) + _field(3, 2, normalizer)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "tokenizer.model"), "wb") as f:
        f.write(proto)
    index = {p: i for i, (p, _, _) in enumerate(pieces)}
    scores = {p: s for p, s, t in pieces if t == 1}

    def encode(text):
        norm = SPACE + text.replace(" ", SPACE)
        syms = list(norm)
        while True:
            best, at = None, -1
            for i in range(len(syms) - 1):
                s = scores.get(syms[i] + syms[i + 1])
                if s is not None and (best is None or s > best):
                    best, at = s, i
            if best is None:
                break
            syms[at:at + 2] = [syms[at] + syms[at + 1]]
        ids = [index["<s>"]]
        for s in syms:
            if s in index and s in scores:
                ids.append(index[s])
            else:
                ids.extend(index["<0x%02X>" % b] for b in s.encode("utf-8"))
        return ids
    return encode, len(pieces)


def main():
    with open(os.path.join(HERE, "minilm", "vocab.txt"), encoding="utf-8") as f:
        bert_vocab = {line.rstrip("\n"): i for i, line in enumerate(f)}
    gpt2_encode, gpt2_size = make_gpt2_bpe(os.path.join(HERE, "bpe"))
    spm_encode, spm_size = make_spm(os.path.join(HERE, "spm"))
    golden = {
        "texts": TEXTS,
        "wordpiece": [bert_encode(t, bert_vocab) for t in TEXTS],
        "bpe": [gpt2_encode(t) for t in TEXTS],
        "bpe_vocab_size": gpt2_size,
        "spm": [spm_encode(t) for t in TEXTS],
        "spm_vocab_size": spm_size,
    }
    with open(os.path.join(HERE, "golden.json"), "w", encoding="utf-8") as f:
        json.dump(golden, f, indent=1, ensure_ascii=True)
        f.write("\n")
    print("wrote golden.json:", {k: len(v) for k, v in golden.items() if isinstance(v, list)}, gpt2_size, spm_size)


if __name__ == "__main__":
    main()
