#!/usr/bin/env python3
"""Check the OpenAI-compatible API with the official `openai` Python client, unchanged.

    python3 -m venv /tmp/oai && /tmp/oai/bin/pip install openai
    ./scripts/run.sh --tiny &                       # or any running server
    /tmp/oai/bin/python scripts/openai_check.py [BASE_URL] [API_KEY]

BASE_URL defaults to http://127.0.0.1:7860/v1. Every response_format is requested through
`client.audio.speech.create` and its bytes checked as that format (WAV through the stdlib `wave`
module; MP3 frame sync, Ogg pages with OpusHead/OpusTags, the FLAC STREAMINFO, raw PCM length);
then streaming (chunked audio, and `stream_format` sse whose joined deltas equal the plain PCM),
the model and voice listings and the error shape (unknown voice, bad speed,
aac). Exits non-zero on the first failure.
"""

import base64
import io
import json
import struct
import sys
import wave

import openai

BASE = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:7860/v1"
KEY = sys.argv[2] if len(sys.argv) > 2 else "unused"
client = openai.OpenAI(base_url=BASE, api_key=KEY, max_retries=0, timeout=300)
EXTRA = {"seed": 1, "max_new_tokens": 40}


def ogg_packets(b: bytes):
    """Packets of an Ogg stream (single logical stream), checking page structure."""
    pos, packet, out = 0, b"", []
    while pos < len(b):
        assert b[pos:pos + 4] == b"OggS", f"Ogg page at {pos}"
        nseg = b[pos + 26]
        lacing = b[pos + 27:pos + 27 + nseg]
        pos += 27 + nseg
        for lace in lacing:
            packet += b[pos:pos + lace]
            pos += lace
            if lace < 255:
                out.append(packet)
                packet = b""
    return out


def check(fmt: str, b: bytes) -> str:
    assert len(b) > 100, f"{fmt}: {len(b)} bytes"
    if fmt == "wav":
        with wave.open(io.BytesIO(b)) as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (24000, 1, 2)
            return f"{w.getnframes() / 24000:.2f} s WAV"
    if fmt == "mp3":
        assert b[:3] == b"ID3" or (b[0] == 0xFF and b[1] & 0xE0 == 0xE0), "MPEG sync"
        return f"{len(b)} bytes MP3"
    if fmt == "opus":
        packets = ogg_packets(b)
        assert packets[0][:8] == b"OpusHead" and packets[1][:8] == b"OpusTags", "Opus headers"
        rate = struct.unpack("<I", packets[0][12:16])[0]
        return f"{len(packets) - 2} Opus packets, input rate {rate}"
    if fmt == "flac":
        assert b[:4] == b"fLaC", "fLaC"
        info = int.from_bytes(b[18:26], "big")
        rate, total = info >> 44, info & ((1 << 36) - 1)
        assert rate == 24000, rate
        return f"{total / rate:.2f} s FLAC"
    if fmt == "pcm":
        assert len(b) % 2 == 0
        return f"{len(b) / 48000:.2f} s PCM"
    raise AssertionError(fmt)


def expect_error(status: int, code: str, param: str, **kw):
    try:
        client.audio.speech.create(**kw)
    except openai.APIStatusError as e:
        err = e.response.json()["error"]
        assert e.status_code == status, (e.status_code, err)
        assert (err["code"], err["param"]) == (code, param), err
        assert err["type"] and err["message"], err
        print(f"error ok: {status} {code} param={param}: {err['message']}")
        return
    raise AssertionError(f"no error for {kw}")


def main():
    for fmt in ["mp3", "opus", "flac", "wav", "pcm"]:
        r = client.audio.speech.create(
            model="tts-1", voice="alloy", input="Hello from the official client.",
            response_format=fmt, extra_body=EXTRA)
        print(f"{fmt}: {check(fmt, r.content)}")
    r = client.audio.speech.create(model="tts-1", voice="alloy", input="Faster.",
                                   response_format="wav", speed=2.0, extra_body=EXTRA)
    print(f"speed 2.0: {check('wav', r.content)}")
    with client.audio.speech.with_streaming_response.create(
            model="tts-1", voice="alloy", input="Streamed body.", extra_body=EXTRA) as s:
        n = sum(len(c) for c in s.iter_bytes())
        print(f"streaming response: {n} bytes, {s.headers['content-type']}")
    # stream_format "sse": speech.audio.delta events whose base64 audio, joined, is the same PCM
    # as the plain response for the same seed; then one speech.audio.done.
    plain = client.audio.speech.create(model="tts-1", voice="alloy", input="Streamed events.",
                                       response_format="pcm", extra_body=EXTRA).content
    with client.audio.speech.with_streaming_response.create(
            model="tts-1", voice="alloy", input="Streamed events.", response_format="pcm",
            extra_body={**EXTRA, "stream_format": "sse"}) as s:
        assert s.headers["content-type"].startswith("text/event-stream"), s.headers["content-type"]
        events = [json.loads(line[5:]) for line in s.iter_lines() if line.startswith("data:")]
    kinds = [e["type"] for e in events]
    assert kinds[-1] == "speech.audio.done" and set(kinds[:-1]) == {"speech.audio.delta"}, kinds
    pcm = b"".join(base64.b64decode(e["audio"]) for e in events[:-1])
    assert pcm == plain, f"sse pcm {len(pcm)} bytes != plain {len(plain)} bytes"
    print(f"sse: {len(events) - 1} delta events, {len(pcm)} bytes = the plain response")
    print("models:", [m.id for m in client.models.list()])
    print("voices listed:", client.get("/audio/voices", cast_to=object)["voices"])
    expect_error(400, "voice_not_found", "voice", model="tts-1", voice="nobody", input="x")
    expect_error(400, "invalid_param", "speed", model="tts-1", voice="alloy", input="x", speed=5.0)
    expect_error(400, "invalid_param", "response_format", model="tts-1", voice="alloy", input="x",
                 response_format="aac")
    print("openai client check: all ok")


if __name__ == "__main__":
    main()
