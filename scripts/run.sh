#!/usr/bin/env bash
# Set up and run the service on a fresh machine: system packages, release build, start on :7860.
#
#   ./scripts/run.sh                         # download ResembleAI/chatterbox from the hub (once) and serve it
#   ./scripts/run.sh --model turbo           # the same for ResembleAI/chatterbox-turbo
#   ./scripts/run.sh --model multilingual    # Chatterbox Multilingual (23 languages, from ResembleAI/chatterbox)
#   ./scripts/run.sh --model-dir DIR         # serve a local copy of the released files
#   ./scripts/run.sh --tiny [--model turbo|multilingual]  # no network: serve a tiny random-weight checkpoint (noise, for trying the API)
#
# Any other flag goes to chatterbox-server (see `--help`); every flag also has a CHATTERBOX_* env var.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
tiny=0 model="${CHATTERBOX_MODEL:-original}" args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --tiny) tiny=1 ;;
        --model) model="$2"; args+=(--model "$2"); shift ;;
        --model=*) model="${1#--model=}"; args+=("$1") ;;
        *) args+=("$1") ;;
    esac
    shift
done
if [ "$tiny" = 1 ]; then
    case "$model" in
        turbo) dir="${CHATTERBOX_TINY_DIR:-models/tiny-turbo}" flag=(--turbo) ;;
        multilingual) dir="${CHATTERBOX_TINY_DIR:-models/tiny-multilingual}" flag=(--multilingual) ;;
        *) dir="${CHATTERBOX_TINY_DIR:-models/tiny}" flag=() ;;
    esac
    if [ ! -f "$dir/config.json" ]; then
        cargo run --release -p chatterbox-testkit --example tiny_checkpoint -- "$dir" 0 "${flag[@]}"
    fi
    args+=(--model-dir "$dir")
fi
exec cargo run --release -p chatterbox-server -- "${args[@]}"
