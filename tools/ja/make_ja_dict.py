#!/usr/bin/env python3
"""Builds crates/chatterbox/data/ja_ipadic.bin.gz, the Japanese reading dictionary of the `ja` text step.

    apt-get install mecab-ipadic        # Debian's IPADIC 2.7.0 sources (EUC-JP CSVs + model files)
    python3 tools/ja/make_ja_dict.py    # [--ipadic /usr/share/mecab/dic/ipadic] [--out ...]

Input: the MeCab IPADIC source as Debian ships it (/usr/share/mecab/dic/ipadic: the *.csv lexicon,
matrix.def, char.def, unk.def). Output: one gzip'd little-endian blob, read by
crates/chatterbox/src/text/ja.rs, holding exactly what a MeCab-style Viterbi segmentation needs
and nothing else (no part-of-speech strings):

    b"CBJAIPA1"
    u16 lsize, u16 rsize, i16 matrix[lsize * rsize]     # matrix.def, cost(l, r) at l + lsize * r
    u8 ncat, ncat x (u8 invoke, u8 group, u8 length)  # char.def categories, in file order
    u32 nrange, nrange x (u32 lo, u32 hi, u8 cat, u32 mask)   # char.def code points (resolved:
                                                      # sorted, disjoint, later lines win; absent = DEFAULT)
    u16 nunk, nunk x (u8 cat, u16 id, i16 cost)        # unk.def
    u32 nsurf, nsurf x (u8 len, surface, u8 n, n x (u16 id, i16 cost, u8 len, reading))

Surfaces are UTF-8, sorted bytewise, unique; a surface's entries keep the CSV order (files in name
order). IPADIC's left and right context ids are equal for every entry, so one id is stored. The
reading (IPADIC's katakana 読み, turned into hiragana) is kept only for surfaces containing a
CJK Unified Ideograph (U+4E00..U+9FFF), the only ones the step rewrites. The gzip stream has mtime 0,
so the output is byte-identical for the same input. IPADIC's licence: crates/chatterbox/data/NOTICE-ipadic.
"""

import argparse
import gzip
import struct
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def is_kanji_word(s):
    return any(0x4E00 <= ord(c) <= 0x9FFF for c in s)


def to_hiragana(s):
    return "".join(chr(ord(c) - 0x60) if 0x30A1 <= ord(c) <= 0x30F6 else c for c in s)


def read_lines(path):
    for line in path.read_text(encoding="euc-jp").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            yield line


def char_def(path):
    cats, names, table = [], {}, {}
    for line in read_lines(path):
        f = line.split()
        if f[0].startswith("0x"):
            lo, _, hi = f[0].partition("..")
            lo, hi = int(lo, 16), int(hi or lo, 16)
            ids = [names[n] for n in f[1:]]
            mask = 0
            for i in ids:
                mask |= 1 << i
            for cp in range(lo, hi + 1):
                table[cp] = (ids[0], mask)
        else:
            names[f[0]] = len(cats)
            cats.append((int(f[1]), int(f[2]), int(f[3])))
    assert list(names)[0] == "DEFAULT" and len(cats) <= 32
    ranges = []
    for cp in sorted(table):
        v = table[cp]
        if ranges and ranges[-1][1] == cp - 1 and ranges[-1][2:] == v:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp, *v])
    return cats, names, ranges


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ipadic", type=Path, default=Path("/usr/share/mecab/dic/ipadic"))
    ap.add_argument("--out", type=Path, default=ROOT / "crates/chatterbox/data/ja_ipadic.bin.gz")
    a = ap.parse_args()
    d = a.ipadic

    out = bytearray(b"CBJAIPA1")
    lines = (d / "matrix.def").read_text().split("\n")
    lsize, rsize = map(int, lines[0].split())
    matrix = [0] * (lsize * rsize)
    for line in lines[1:]:
        if line.strip():
            l, r, c = map(int, line.split())
            matrix[l + lsize * r] = c
    out += struct.pack(f"<HH{len(matrix)}h", lsize, rsize, *matrix)

    cats, names, ranges = char_def(d / "char.def")
    out += struct.pack("<B", len(cats))
    for c in cats:
        out += struct.pack("<BBB", *c)
    out += struct.pack("<I", len(ranges))
    for lo, hi, cat, mask in ranges:
        out += struct.pack("<IIBI", lo, hi, cat, mask)

    unk = []
    for line in read_lines(d / "unk.def"):
        f = line.split(",")
        assert f[1] == f[2]
        unk.append((names[f[0]], int(f[1]), int(f[3])))
    out += struct.pack("<H", len(unk))
    for u in unk:
        out += struct.pack("<BHh", *u)

    lex = {}
    for csv in sorted(d.glob("*.csv")):
        for line in csv.read_text(encoding="euc-jp").splitlines():
            f = line.split(",")
            surf, lid, rid, cost = f[0], int(f[1]), int(f[2]), int(f[3])
            assert lid == rid < min(lsize, rsize)
            reading = to_hiragana(f[11]) if is_kanji_word(surf) and len(f) > 11 and f[11] != "*" else ""
            e = (lid, cost, reading)
            ents = lex.setdefault(surf.encode(), [])
            if e not in ents:
                ents.append(e)
    out += struct.pack("<I", len(lex))
    for surf in sorted(lex):
        ents = lex[surf]
        assert len(surf) < 256 and len(ents) < 256
        out += struct.pack("<B", len(surf)) + surf + struct.pack("<B", len(ents))
        for lid, cost, reading in ents:
            r = reading.encode()
            assert len(r) < 256
            out += struct.pack("<HhB", lid, cost, len(r)) + r

    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_bytes(gzip.compress(bytes(out), compresslevel=9, mtime=0))
    n = sum(len(v) for v in lex.values())
    print(f"{a.out}: {len(lex)} surfaces, {n} entries, {len(out)} bytes raw, {a.out.stat().st_size} gzip'd")


if __name__ == "__main__":
    main()
