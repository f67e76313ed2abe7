#!/usr/bin/env bash
# Web UI test: npm ci, production build (API types generated from docs/openapi.json and
# type-checked), then the contract test and the browser end-to-end test: the real chatterbox-server
# with a tiny random-weight checkpoint behind the Next.js standalone server, driven by headless
# Chromium. Screenshots land in web/test-results/.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

if ! command -v node >/dev/null 2>&1 || ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=9)?0:1)'; then
    echo "web-test: Node.js >= 20.9 with npm is required" >&2
    exit 1
fi
./scripts/bootstrap.sh
./scripts/install-chromium.sh

# The server is built with Dockerfile.web's command (`cargo build --release --locked -p
# chatterbox-server`) plus, in the same invocation so the dependency features stay identical and
# nothing is compiled twice, the tiny checkpoint writer example (test support, crate chatterbox-testkit).
cargo build --release --locked -p chatterbox-server -p chatterbox-testkit --bin chatterbox-server --example tiny_checkpoint
target="${CARGO_TARGET_DIR:-$root/target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
export CBX_SERVER_BIN="$target/release/chatterbox-server"
export CBX_TINY_BIN="$target/release/examples/tiny_checkpoint"

cd web
export NEXT_TELEMETRY_DISABLED=1
npm ci --no-audit --no-fund --loglevel=error
npm run build --silent
node --test --test-reporter=spec tests/
