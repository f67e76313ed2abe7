#!/usr/bin/env bash
# Set up and run the service on a fresh machine: system packages, release build, start on :7860.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
exec cargo run --release -p chatterbox-server -- "$@"
