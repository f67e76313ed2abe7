#!/usr/bin/env python3
"""Checks that the port's Japanese segmentation is MeCab's: runs the `ja_kana` example and the MeCab
command line (Debian: `apt-get install mecab mecab-ipadic-utf8`, the same IPADIC 2.7.0 the embedded
table is built from) on the same sentences and reports every line whose hiragana text differs.

    python3 tools/ja/compare_mecab.py [FILE...]   # default: the ja_kana.json fixture's sentences + edge cases

MeCab's words are converted with the rules of crates/chatterbox/src/text/ja.rs (its numeral readings,
then a word containing a kanji U+4E00..U+9FFF -> its reading in hiragana, " " before は/へ; everything
else kept; NFKD).
Exit status 1 when any line differs. Not part of CI (it needs MeCab); a development check.
"""

import json
import subprocess
import sys
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EDGE = [
    "東京　大阪　 名古屋 ",
    "ＡＢＣ株式会社の山本社長は、１２３億円の赤字を発表。",
    "ｶﾀｶﾅの漢字と全角カタカナの漢字",
    "Ⅲ世紀の①番目の問題",
    "γ線とα線とβ線の違いは何ですか",
    "ロシア語でпривет、英語でhelloと言います。",
    "明日、明後日、明々後日、来週。",
    "人々は国々を訪れた。〇〇さんから連絡がありました",
    "最高気温は２５．５℃、湿度は６０％でした。",
    "私" * 30,
    "あ" * 30 + "漢",
    "𠮷野家で牛丼を食べた",
    "鬱憤を晴らす薔薇の花束",
    "一人で二人の三日間、十一人と四月二十日と三日、八百八十円、三千六百人、一日と十一日",
]


def kanji(s):
    return any(0x4E00 <= ord(c) <= 0x9FFF for c in s)


def hira(s):
    return "".join(chr(ord(c) - 0x60) if 0x30A1 <= ord(c) <= 0x30F6 else c for c in s)


NUMERALS = "〇一二三四五六七八九十百千万億兆"
COUNTED = {"一人": "ひとり", "二人": "ふたり", "二日": "ふつか", "三日": "みっか", "四日": "よっか", "五日": "いつか",
           "六日": "むいか", "七日": "なのか", "八日": "ようか", "九日": "ここのか", "十日": "とおか", "二十日": "はつか"}
SOUND = {("三", "百"): (None, "びゃく"), ("六", "百"): ("ろっ", "ぴゃく"), ("八", "百"): ("はっ", "ぴゃく"),
         ("三", "千"): (None, "ぜん"), ("八", "千"): ("はっ", "せん")}


def numeral_readings(words):
    """ja.rs `numeral_readings`: words are [gap, surface, hiragana reading, absorbed]."""
    num = lambda w: w[1] and all(c in NUMERALS for c in w[1])
    for i in range(1, len(words)):
        if not words[i][0] and num(words[i - 1]) and (words[i - 1][1], words[i][1]) in SOUND:
            prev, unit = SOUND[(words[i - 1][1], words[i][1])]
            if prev:
                words[i - 1][2] = prev
            words[i][2] = unit
    i = 0
    while i < len(words):
        if not num(words[i]):
            i += 1
            continue
        j = i + 1
        while j < len(words) and not words[j][0] and num(words[j]):
            j += 1
        if j < len(words) and not words[j][0]:
            key = "".join(w[1] for w in words[i : j + 1])
            if key in COUNTED:
                words[i][2] = COUNTED[key]
                for w in words[i + 1 : j + 1]:
                    w[3] = True
        i = j


def mecab_convert(text):
    t = unicodedata.normalize("NFC", unicodedata.normalize("NFKD", text.lower()))
    lines = subprocess.run(["mecab"], input=t + "\n", capture_output=True, text=True, check=True).stdout
    words, pos = [], 0
    for line in lines.split("\n"):
        if not line or line == "EOS":
            continue
        surf, feat = line.split("\t")
        f = feat.split(",")
        i = t.index(surf, pos)
        words.append([t[pos:i], surf, hira(f[7]) if len(f) > 7 and f[7] != "*" else "", False])
        pos = i + len(surf)
    numeral_readings(words)
    out = []
    for gap, surf, h, absorbed in words:
        if absorbed:
            continue
        out.append(gap)
        if kanji(surf) and h:
            out.append(" " + h if h[0] in "はへ" else h)
        else:
            out.append(surf)
    out.append(t[pos:])
    return unicodedata.normalize("NFKD", "".join(out))


def main():
    if len(sys.argv) > 1:
        sents = [l.rstrip("\n") for f in sys.argv[1:] for l in open(f, encoding="utf-8")]
    else:
        fx = json.loads((ROOT / "crates/testkit/fixtures/ja_kana.json").read_text(encoding="utf-8"))
        sents = [c["input"] for c in fx["cases"]] + EDGE
    ours = subprocess.run(
        ["cargo", "run", "-q", "--release", "-p", "chatterbox", "--example", "ja_kana"],
        input="\n".join(sents) + "\n", capture_output=True, text=True, check=True, cwd=ROOT,
    ).stdout.split("\n")
    bad = 0
    for s, o in zip(sents, ours):
        m = mecab_convert(s)
        if m != o:
            bad += 1
            print(f"{s}\n  mecab: {m}\n  ours:  {o}")
    print(f"{len(sents) - bad} of {len(sents)} identical to MeCab")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
