#!/usr/bin/env bash
# Creates tools/reference/.venv with the pinned PyTorch reference (chatterbox-tts 0.1.7, torch 2.6 on CPU).
# Used only to (re)generate parity fixtures; never at run time and never in CI. Takes ~6 minutes, ~4 GB.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${VENV:-$here/.venv}"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
"$venv/bin/pip" install --quiet "chatterbox-tts==0.1.7" "safetensors==0.5.3" "soundfile"
"$venv/bin/python" -c "import chatterbox, torch, torchaudio, librosa; print('reference ready: torch', torch.__version__)"
