#!/usr/bin/env python3
"""Parity fixtures from the PyTorch reference (chatterbox-tts 0.1.7).

    tools/reference/.venv/bin/python tools/reference/make_fixtures.py --seed 0 --out crates/testkit/fixtures

Fixture producers live in `tools/reference/fixtures_*.py`; each module lists its producers in
`FIXTURES` (functions `f(rng, out_dir, seed)`). Every input is drawn from a numpy RandomState (and
torch generator) seeded from `--seed` and the producer's name, so adding a producer never changes
another's output; every output comes from the reference's own modules. Files are reproduced byte
for byte from the seed (libsndfile's random Ogg serial number is rewritten to a seed-derived one).

Never run in CI and never at run time: `tools/reference/setup.sh` builds the venv (~6 min).
"""

import argparse
import importlib
import os
import sys
import warnings
import zlib
from pathlib import Path

warnings.filterwarnings("ignore")
os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)


def producers():
    here = Path(__file__).resolve().parent
    for path in sorted(here.glob("fixtures_*.py")):
        mod = importlib.import_module(path.stem)
        for fn in mod.FIXTURES:
            yield path.stem.removeprefix("fixtures_"), fn


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--only", action="append", default=[], help="area(s) to generate, e.g. frontend, t3")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for area, fn in producers():
        if args.only and area not in args.only:
            continue
        s = (args.seed * 1_000_003 + zlib.crc32(fn.__name__.encode())) % (2**32)
        rng = np.random.RandomState(s)
        torch.manual_seed(s)
        fn(rng, args.out, args.seed)
        print(f"wrote {area}.{fn.__name__}")


if __name__ == "__main__":
    main()
