#!/usr/bin/env bash
# Run the server image on one EC2 host (Docker installed; image built from Dockerfile.web or pulled).
#   IMAGE=cb-tts-server:latest PORT=7860 OUT_DIR=/srv/chatterbox/out deploy/ec2/run.sh
# Threads: CHATTERBOX_THREADS candle threads per synthesis (0 = all cores), CHATTERBOX_WORKERS
# concurrent syntheses; keep THREADS x WORKERS <= vCPUs (e.g. 8 vCPU: 4 x 2).
set -euo pipefail
IMAGE="${IMAGE:-cb-tts-server:latest}"
NAME="${NAME:-chatterbox}"
PORT="${PORT:-7860}"
OUT_DIR="${OUT_DIR:-/srv/chatterbox/out}"
THREADS="${CHATTERBOX_THREADS:-0}"
WORKERS="${CHATTERBOX_WORKERS:-1}"

mkdir -p "$OUT_DIR"
# The image runs as uid 10001.
chown 10001:10001 "$OUT_DIR" 2>/dev/null || echo "run.sh: could not chown $OUT_DIR to 10001 (run as root?)" >&2

docker rm -f "$NAME" >/dev/null 2>&1 || true
docker run -d \
    --name "$NAME" \
    --restart unless-stopped \
    -p "${PORT}:7860" \
    -e CHATTERBOX_THREADS="$THREADS" \
    -e CHATTERBOX_WORKERS="$WORKERS" \
    -e CHATTERBOX_LOG_FORMAT=json \
    -v "${OUT_DIR}:/app/out" \
    "$IMAGE"
echo "started $NAME; health: curl -fsS http://127.0.0.1:${PORT}/health"
