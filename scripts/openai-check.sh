#!/usr/bin/env bash
# The official `openai` Python client, unchanged, against the real server with a tiny random-weight
# checkpoint: every response_format decoded as that format, speed, chunked and SSE streaming, the
# model and voice listings, and the error shape (scripts/openai_check.py). Run by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
target="${CARGO_TARGET_DIR:-target}"
venv="${CBX_OPENAI_VENV:-/tmp/cbx-openai-venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "openai==3.57.0"
# The same invocation (and so the same features) as scripts/web-test.sh: nothing compiles twice.
cargo build --release --locked -p chatterbox-server -p chatterbox-testkit --bin chatterbox-server --example tiny_checkpoint
work="$(mktemp -d)"
"$target/release/examples/tiny_checkpoint" "$work/model" > /dev/null
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$target/release/chatterbox-server" --model-dir "$work/model" --out-dir "$work/out" \
    --host 127.0.0.1 --port "$port" > "$work/server.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 120); do
    if curl -fsS "http://127.0.0.1:$port/health" > /dev/null 2>&1; then break; fi
    if ! kill -0 "$pid" 2>/dev/null; then cat "$work/server.log"; exit 1; fi
    sleep 0.5
done
"$venv/bin/python" scripts/openai_check.py "http://127.0.0.1:$port/v1"
