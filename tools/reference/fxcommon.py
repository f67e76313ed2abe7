"""Shared helpers for the fixture generators: deterministic test signals and safetensors output."""

import struct
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file


def speechlike(rng, sr, seconds, silence=True):
    """A voiced-speech-like test signal: a gliding harmonic source with formant-ish weights,
    syllable-rate amplitude modulation, breath noise, and (optionally) a stretch of silence."""
    n = int(sr * seconds)
    t = np.arange(n) / sr
    f0 = rng.uniform(90, 220) * (1 + 0.15 * np.sin(2 * np.pi * rng.uniform(0.5, 2.0) * t))
    phase = 2 * np.pi * np.cumsum(f0) / sr
    x = np.zeros(n)
    for h in range(1, 25):
        fh = h * f0
        w = np.exp(-(((fh - rng.uniform(400, 900)) / 500) ** 2)) + 0.4 * np.exp(
            -(((fh - rng.uniform(1200, 2400)) / 700) ** 2)
        )
        x += w * np.sin(h * phase + rng.uniform(-np.pi, np.pi)) * (fh < sr / 2)
    env = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(3, 5) * t + rng.uniform(0, 6)) ** 2
    x = x * env + 0.02 * rng.standard_normal(n)
    if silence:
        a = int(n * rng.uniform(0.55, 0.7))
        x[a : a + int(0.15 * sr)] *= 1e-3
    x = 0.7 * x / np.max(np.abs(x))
    return x.astype(np.float32)


def save(path, tensors, seed):
    out = {}
    for k, v in tensors.items():
        t = torch.as_tensor(v)
        if t.dtype == torch.float64:
            t = t.float()
        out[k] = t.contiguous()
    save_file(out, str(path), metadata={"generator": f"make_fixtures.py --seed {seed}"})


# ----------------------------------------------------------------------------------------------
# ogg serial number (libsndfile draws it at random)

_OGG_CRC = []
for i in range(256):
    r = i << 24
    for _ in range(8):
        r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else (r << 1)
    _OGG_CRC.append(r & 0xFFFFFFFF)


def _ogg_crc(data):
    crc = 0
    for b in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _OGG_CRC[((crc >> 24) & 0xFF) ^ b]
    return crc


def fix_ogg_serial(path, serial):
    data = bytearray(Path(path).read_bytes())
    pos = 0
    while pos < len(data):
        assert data[pos : pos + 4] == b"OggS", "not an ogg page"
        nseg = data[pos + 26]
        body = sum(data[pos + 27 : pos + 27 + nseg])
        end = pos + 27 + nseg + body
        data[pos + 14 : pos + 18] = struct.pack("<I", serial)
        data[pos + 22 : pos + 26] = b"\0\0\0\0"
        data[pos + 22 : pos + 26] = struct.pack("<I", _ogg_crc(data[pos:end]))
        pos = end
    Path(path).write_bytes(bytes(data))


