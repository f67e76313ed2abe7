#!/usr/bin/env bash
# Set up and run the service on a fresh machine: system packages, release build, start on :7860.
#
#   ./scripts/run.sh                         # download ResembleAI/chatterbox from the hub (once) and serve it
#   ./scripts/run.sh --model-dir DIR         # serve a local copy of the five released files
#   ./scripts/run.sh --tiny                  # no network: serve a tiny random-weight checkpoint (noise, for trying the API)
#
# Any other flag goes to chatterbox-server (see `--help`); every flag also has a CHATTERBOX_* env var.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
args=()
for a in "$@"; do
    if [ "$a" = "--tiny" ]; then
        dir="${CHATTERBOX_TINY_DIR:-models/tiny}"
        if [ ! -f "$dir/config.json" ]; then
            cargo run --release -p chatterbox-testkit --example tiny_checkpoint -- "$dir"
        fi
        args+=(--model-dir "$dir")
    else
        args+=("$a")
    fi
done
exec cargo run --release -p chatterbox-server -- "${args[@]}"
