#!/usr/bin/env python3
"""Times the reference `prepare_conditionals` (released network sizes, random weights) on a 10 s
clip, for comparison with `cargo run --release --example bench_cond -- CLIP.wav`.

    tools/reference/.venv/bin/python tools/reference/bench_cond.py /tmp/bench_clip.wav [--threads N]

Writes the clip (a deterministic speech-like signal, 10 s at 24 kHz, PCM16) if it does not exist.
"""

import argparse
import sys
import time
import types
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
import torch  # noqa: E402

from chatterbox.models.s3gen.s3gen import S3Token2Mel  # noqa: E402
from chatterbox.models.s3gen.utils.mel import mel_spectrogram  # noqa: E402
from chatterbox.models.s3gen.xvector import CAMPPlus  # noqa: E402
from chatterbox.models.s3tokenizer import S3Tokenizer  # noqa: E402
from chatterbox.models.voice_encoder import VoiceEncoder  # noqa: E402
from chatterbox.tts import ChatterboxTTS  # noqa: E402
from fxcommon import speechlike  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("clip", type=Path)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--stages", action="store_true", help="also time each network once, as bench_cond does")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if not args.clip.exists():
        sf.write(str(args.clip), speechlike(np.random.RandomState(0), 24000, 10.0), 24000, subtype="PCM_16")
    tok = S3Tokenizer("speech_tokenizer_v2_25hz").eval()
    ve = VoiceEncoder().eval()
    cam = CAMPPlus(memory_efficient=False).eval()
    s3 = types.SimpleNamespace(
        tokenizer=tok, speaker_encoder=cam, mel_extractor=mel_spectrogram,
        device=torch.device("cpu"), dtype=torch.float32,
    )
    s3.embed_ref = lambda w, sr, device="auto": S3Token2Mel.embed_ref(s3, w, sr, device=device)
    tts = types.SimpleNamespace(
        s3gen=s3, ve=ve, device="cpu",
        t3=types.SimpleNamespace(hp=types.SimpleNamespace(speech_cond_prompt_len=150)),
        ENC_COND_LEN=ChatterboxTTS.ENC_COND_LEN, DEC_COND_LEN=ChatterboxTTS.DEC_COND_LEN,
    )
    best = float("inf")
    for i in range(args.iters):
        t = time.perf_counter()
        with torch.inference_mode():
            ChatterboxTTS.prepare_conditionals(tts, str(args.clip), exaggeration=0.5)
        dt = time.perf_counter() - t
        best = min(best, dt)
        print(f"reference prepare_conditionals #{i}: {dt:.3f} s")
    print(f"best: {best:.3f} s ({args.threads} torch threads)")
    if args.stages:
        import librosa

        wav24, _ = librosa.load(str(args.clip), sr=24000)
        wav24 = wav24[: ChatterboxTTS.DEC_COND_LEN]
        wav16 = librosa.resample(wav24, orig_sr=24000, target_sr=16000)
        stages = [
            ("voice encoder (full clip)", lambda: ve.embeds_from_wavs([wav16], sample_rate=16000)),
            ("s3 tokenizer (6 s, max_len 150)", lambda: tok.forward([wav16[: ChatterboxTTS.ENC_COND_LEN]], max_len=150)),
            ("embed_ref (10 s: mel, CAMPPlus, tokenizer)", lambda: s3.embed_ref(wav24, 24000)),
            ("campplus (10 s)", lambda: cam.inference(torch.from_numpy(wav16).unsqueeze(0))),
        ]
        for name, f in stages:
            t = time.perf_counter()
            with torch.inference_mode():
                f()
            print(f"  {name}: {time.perf_counter() - t:.3f} s")


if __name__ == "__main__":
    main()
