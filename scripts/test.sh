#!/usr/bin/env bash
# The test command: system packages, then every test in release (candle is 100x slower in debug).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
cargo test --release --workspace
