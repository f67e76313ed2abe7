"""Foundation fixtures: audio I/O, resamplers, feature extractors, HiFT STFT, text front end."""

import json
import types

import librosa
import numpy as np
import soundfile as sf
import torch
import torchaudio.compliance.kaldi as Kaldi
from scipy.signal import get_window

from chatterbox.tts import punc_norm
from chatterbox.models.tokenizers.tokenizer import EnTokenizer
from chatterbox.models.s3tokenizer import S3Tokenizer
from chatterbox.models.voice_encoder.melspec import melspectrogram as ve_melspectrogram
from chatterbox.models.voice_encoder.config import VoiceEncConfig
from chatterbox.models.s3gen.utils.mel import mel_spectrogram as s3gen_mel
from chatterbox.models.s3gen.s3gen import get_resampler
from chatterbox.models.s3gen.xvector import extract_feature
from chatterbox.models.s3gen.hifigan import HiFTGenerator

from fxcommon import fix_ogg_serial, save, speechlike


def audio_io(rng, out, seed):
    sr = 44100
    left = speechlike(rng, sr, 0.6, silence=False)
    right = (0.8 * np.roll(left, 37) + 0.05 * rng.standard_normal(left.size)).astype(np.float32)
    stereo = np.stack([left, right], axis=1) * 0.9
    tensors = {}
    for fmt, kw in [
        ("wav", dict(format="WAV", subtype="PCM_16")),
        ("flac", dict(format="FLAC", subtype="PCM_16")),
        ("ogg", dict(format="OGG", subtype="VORBIS")),
        ("mp3", dict(format="MP3", subtype="MPEG_LAYER_III")),
    ]:
        path = out / f"clip.{fmt}"
        sf.write(str(path), stereo, sr, **kw)
        if fmt == "ogg":
            fix_ogg_serial(path, 0x5EED0000 + seed)
        y, file_sr = sf.read(str(path), dtype="float32", always_2d=True)
        tensors[f"{fmt}.native"] = librosa.to_mono(y.T)
        tensors[f"{fmt}.sr"] = torch.tensor([file_sr], dtype=torch.int64)
        y24, _ = librosa.load(str(path), sr=24000)
        tensors[f"{fmt}.load24k"] = y24
    save(out / "audio_io.safetensors", tensors, seed)


def resample(rng, out, seed):
    wav24 = speechlike(rng, 24000, 1.3)
    wav44 = speechlike(rng, 44100, 0.8)
    ta = get_resampler(24000, 16000, "cpu")
    save(
        out / "resample.safetensors",
        {
            "wav24k": wav24,
            "wav44k": wav44,
            "soxr_16k": librosa.resample(wav24, orig_sr=24000, target_sr=16000),
            "soxr_44k_24k": librosa.resample(wav44, orig_sr=44100, target_sr=24000),
            "torchaudio_16k": ta(torch.from_numpy(wav24)[None])[0],
        },
        seed,
    )


def s3_logmel(rng, out, seed):
    wav = speechlike(rng, 16000, 1.7)
    tok = S3Tokenizer("speech_tokenizer_v2_25hz")
    mel = tok.log_mel_spectrogram(torch.from_numpy(wav)[None])
    save(out / "s3_logmel.safetensors", {"wav16k": wav, "logmel": mel}, seed)


def ve_mel(rng, out, seed):
    wav = speechlike(rng, 16000, 1.9)
    mel = ve_melspectrogram(wav, VoiceEncConfig()).T
    save(out / "ve_mel.safetensors", {"wav16k": wav, "mel": np.ascontiguousarray(mel)}, seed)


def s3gen_mel_fx(rng, out, seed):
    wav = speechlike(rng, 24000, 1.5)
    mel = s3gen_mel(torch.from_numpy(wav)[None])
    save(out / "s3gen_mel.safetensors", {"wav24k": wav, "mel": mel}, seed)


def campplus_fbank(rng, out, seed):
    wav = speechlike(rng, 16000, 1.6)
    t = torch.from_numpy(wav)
    fbank = Kaldi.fbank(t[None], num_mel_bins=80)
    feat, _, _ = extract_feature([t])
    save(out / "campplus_fbank.safetensors", {"wav16k": wav, "fbank": fbank, "feat": feat[0]}, seed)


def hift_stft(rng, out, seed):
    # HiFTGenerator's own _stft/_istft methods on a stand-in `self` with the released parameters.
    fake = types.SimpleNamespace(
        istft_params={"n_fft": 16, "hop_len": 4},
        stft_window=torch.from_numpy(get_window("hann", 16, fftbins=True).astype(np.float32)),
    )
    x = torch.from_numpy(np.stack([speechlike(rng, 24000, 0.05), speechlike(rng, 24000, 0.05)]))
    real, imag = HiFTGenerator._stft(fake, x)
    frames = 151
    logmag = torch.from_numpy(rng.uniform(-4, 5.2, size=(2, 9, frames)).astype(np.float32))
    magnitude = torch.exp(logmag)  # a few values exceed the 100 clip
    phase = torch.sin(torch.from_numpy(rng.standard_normal((2, 9, frames)).astype(np.float32) * 3))
    wav = HiFTGenerator._istft(fake, magnitude, phase)
    save(
        out / "hift_stft.safetensors",
        {"x": x, "real": real, "imag": imag, "magnitude": magnitude, "phase": phase, "istft": wav},
        seed,
    )


CORPUS = """The quick brown fox jumps over the lazy dog. Speech synthesis turns written text into
audio that sounds like a person talking. Chatterbox clones a voice from a short reference clip,
and this tokenizer only needs to look like the released one: byte pair merges over English words,
punctuation such as commas, periods, question marks and exclamation points! Numbers 0 1 2 3 4 5 6
7 8 9 and capital Letters A B C D E F G H I J K L M N O P Q R S T U V W X Y Z appear too; so do
quotes "like this" and 'this', hyphens - and dashes, colons: semicolons; and ellipses... Why not?
"""

TEXTS = [
    "",
    "hello world",
    "Hello world",
    "  multiple   spaces  here ",
    "tabs\tand\nnewlines\r\nmixed",
    "separators\x1cand\x1fcontrol",
    "world... it's",
    "wait\u2026 what",
    "time: 10:30",
    "a - b - c",
    "one; two; three",
    "em\u2014dash and en\u2013dash",
    "a \u2014 b",
    "comma , before",
    "\u201cquoted\u201d and \u2018single\u2019",
    "\u00dftrasse is a street",
    "\u00e9lan vital",
    "\u00c9cole",
    "caf\u00e9 na\u00efve r\u00e9sum\u00e9",
    "\u4f60\u597d\u4e16\u754c",
    "emoji \U0001f600 test",
    "Question?",
    "Exclaim!",
    "trailing dash -",
    "trailing comma,",
    "trailing space   ",
    "...",
    "   ",
    "a",
    "ABC def. GHI jkl? mno!",
    "Numbers 12345 and 3.14159",
    "It's a dog's life; isn't it? Yes - it is...",
    "\u00a0non-breaking\u00a0space",
    " leading space lowercase",
    " ".join(["This is a long sentence number %d, with several words in it." % i for i in range(40)]),
]


def text_fixtures(rng, out, seed):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    # A tokenizer in the released file's format: BPE, [UNK], Whitespace pre-tokenizer, no
    # normalizer/post-processor/decoder, specials [STOP]=0 [UNK]=1 [SPACE]=2 [START]=255.
    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.BpeTrainer(
        vocab_size=255, special_tokens=["[STOP]", "[UNK]", "[SPACE]"], show_progress=False
    )
    words = CORPUS.split()
    rng.shuffle(words)
    tok.train_from_iterator([CORPUS, " ".join(words)], trainer=trainer)
    assert tok.get_vocab_size() == 255, tok.get_vocab_size()
    tok.add_special_tokens(["[START]", "[PAD]", "[SEP]", "[CLS]", "[MASK]"])
    assert tok.token_to_id("[START]") == 255 and tok.token_to_id("[STOP]") == 0
    path = out / "tokenizer.json"
    tok.save(str(path))
    en = EnTokenizer(str(path))
    cases = []
    for text in TEXTS:
        norm = punc_norm(text)
        cases.append({"input": text, "normalized": norm, "ids": [255] + en.encode(norm) + [0]})
    (out / "text_cases.json").write_text(
        json.dumps(cases, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )


FIXTURES = [audio_io, resample, s3_logmel, ve_mel, s3gen_mel_fx, campplus_fbank, hift_stft, text_fixtures]
