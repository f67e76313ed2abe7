#!/usr/bin/env bash
# Deployment, proven under a real Docker engine (CI step; root, Debian's docker.io and
# docker-compose packages, `scripts/docker-stand-ins.sh` where Docker Hub is unreachable):
#  1. builds the three images: the runtime base (Dockerfile.base) with a tiny random-weight
#     checkpoint as its local model source, the server (Dockerfile.web, BINARY=prebuilt: the
#     release binary cargo built here) and the web UI (web/Dockerfile, built from source);
#  2. runs the server image: non-root, Docker's HEALTHCHECK `healthy`, /synthesize + /play + a
#     saved voice through the published port, `docker stop` graceful (exit 0 within the grace);
#     a new container on the same volume plays the earlier session and speaks in its voice and the
#     saved one; two containers on one volume serve each other's sessions;
#  3. `docker compose` brings up backend + UI and the browser end-to-end test runs against it.
# Idempotent: starts dockerd when none answers, removes what an earlier run left, cleans up.
#   scripts/docker-ci.sh            (after scripts/web-test.sh: reuses its npm install and build)
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
export NEXT_TELEMETRY_DISABLED=1
start=$(date +%s)
# shellcheck source=scripts/docker-client.sh
. scripts/docker-client.sh
COMPOSE="${COMPOSE:-docker-compose}"
P=cbxci                       # prefix of everything this script creates
LABEL=org.chatterbox-rs.ci=1
GRACE=30                      # docker stop's grace period (the server drains for up to 30 s)
log() { echo "docker-ci: [$(($(date +%s) - start)) s] $*"; }
fail() { echo "docker-ci: FAILED: $*" >&2; exit 1; }

# --- the engine -------------------------------------------------------------------------------
if ! command -v dockerd >/dev/null || ! command -v "$COMPOSE" >/dev/null || ! command -v debootstrap >/dev/null; then
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
        fail "install docker.io, docker-compose and debootstrap"
    fi
    log "installing docker.io docker-compose debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io docker-compose debootstrap >/dev/null
    unset DOCKER
    # shellcheck source=scripts/docker-client.sh
    . scripts/docker-client.sh
fi
if ! "$DOCKER" info >/dev/null 2>&1; then
    command -v dockerd >/dev/null || fail "no Docker engine (apt-get install docker.io)"
    log "starting dockerd"
    nohup dockerd >/tmp/cbx-dockerd.log 2>&1 &
    for _ in $(seq 60); do "$DOCKER" info >/dev/null 2>&1 && break; sleep 1; done
    "$DOCKER" info >/dev/null 2>&1 || { tail -20 /tmp/cbx-dockerd.log >&2; fail "dockerd did not start"; }
fi
command -v "$COMPOSE" >/dev/null || fail "no docker-compose (apt-get install docker-compose)"

tmp="$(mktemp -d)"
cleanup() {
    "$COMPOSE" -p "$P" -f deploy/docker-compose.yml down -v --remove-orphans >/dev/null 2>&1 || true
    # shellcheck disable=SC2046 # one id per word
    "$DOCKER" rm -f $("$DOCKER" ps -aq --filter "label=$LABEL") >/dev/null 2>&1 || true
    "$DOCKER" volume rm -f "$P-out" >/dev/null 2>&1 || true
    if [ -e models/chatterbox/.cbx-ci-tiny ]; then rm -rf models/chatterbox; fi
    rmdir models 2>/dev/null || true
    rm -rf "$tmp" dist
}
trap cleanup EXIT
cleanup
mkdir -p "$tmp"

# --- artefacts: the release binary CI tested, a tiny checkpoint ------------------------------
./scripts/docker-stand-ins.sh
cargo build --release --locked -p chatterbox-server -p chatterbox-testkit --bin chatterbox-server --example tiny_checkpoint
target="${CARGO_TARGET_DIR:-$root/target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
if [ -e models/chatterbox ] && [ ! -e models/chatterbox/.cbx-ci-tiny ]; then
    fail "models/chatterbox holds your weights; move them away (the CI puts a tiny checkpoint there)"
fi
rm -rf models/chatterbox dist
mkdir -p models dist
"$target/release/examples/tiny_checkpoint" models/chatterbox >/dev/null
touch models/chatterbox/.cbx-ci-tiny
cp "$target/release/chatterbox-server" dist/chatterbox-server

# --- images -----------------------------------------------------------------------------------
log "building images"
"$DOCKER" build -q -f Dockerfile.base --build-arg MODEL_SOURCE=local -t cb-tts:cpu . >/dev/null
"$DOCKER" build -q -f Dockerfile.web --build-arg BINARY=prebuilt -t cb-tts-server:latest . >/dev/null
"$DOCKER" build -q -f web/Dockerfile -t cb-tts-web:latest . >/dev/null
rm -rf models/chatterbox dist
shipped="$("$DOCKER" run --rm --entrypoint sha256sum cb-tts-server:latest /usr/local/bin/chatterbox-server | cut -d' ' -f1)"
tested="$(sha256sum "$target/release/chatterbox-server" | cut -d' ' -f1)"
[ "$shipped" = "$tested" ] || fail "the image's binary is not the one CI tested"
for image in cb-tts:cpu cb-tts-server:latest cb-tts-web:latest; do
    log "image $image: $(("$("$DOCKER" image inspect -f '{{.Size}}' "$image")" / 1000000)) MB"
done

# --- the server image -------------------------------------------------------------------------
python3 - "$tmp/voice.wav" <<'PY'
import math, struct, sys, wave
sr = 24000
with wave.open(sys.argv[1], "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(sr)
    w.writeframes(b"".join(struct.pack("<h", int(32767 * (0.3 * math.sin(2 * math.pi * 140 * i / sr)
        * (0.5 + 0.5 * math.sin(7 * i / sr)) + 0.1 * math.sin(2 * math.pi * 420 * i / sr))))
        for i in range(2 * sr)))
PY
"$DOCKER" volume create "$P-out" >/dev/null

run_server() { # NAME: a server container on the shared volume, published on a free local port
    "$DOCKER" run -d --name "$1" --label "$LABEL" -p 127.0.0.1::7860 -v "$P-out:/app/out" \
        -e CHATTERBOX_THREADS=1 --health-interval 2s cb-tts-server:latest >/dev/null
}
wait_healthy() { # NAME
    for _ in $(seq 120); do
        case "$("$DOCKER" inspect -f '{{.State.Health.Status}}' "$1")" in
        healthy) return 0 ;;
        unhealthy) break ;;
        esac
        [ "$("$DOCKER" inspect -f '{{.State.Running}}' "$1")" = true ] || break
        sleep 1
    done
    "$DOCKER" logs "$1" 2>&1 | tail -20 >&2
    fail "$1 is not healthy: $("$DOCKER" inspect -f '{{json .State.Health}}' "$1")"
}
url() { echo "http://$("$DOCKER" port "$1" 7860/tcp | head -1)"; }
field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
stop_gracefully() { # NAME
    local t0 code
    t0=$(date +%s)
    "$DOCKER" stop -t "$GRACE" "$1" >/dev/null
    code="$("$DOCKER" inspect -f '{{.State.ExitCode}}' "$1")"
    [ "$code" = 0 ] || fail "$1 exited with $code on docker stop"
    [ $(($(date +%s) - t0)) -lt "$GRACE" ] || fail "$1 needed the whole grace period (killed)"
    log "$1: docker stop -> exit 0 in $(($(date +%s) - t0)) s"
}

log "server container A"
run_server "$P-a"
wait_healthy "$P-a"
a="$(url "$P-a")"
uid="$("$DOCKER" exec "$P-a" grep '^Uid:' /proc/1/status | awk '{print $2}')"
[ "$uid" = 10001 ] || fail "the server runs as uid $uid, not 10001"
[ "$("$DOCKER" inspect -f '{{.Config.User}}' cb-tts-web:latest)" = 1000 ] || fail "the web image is not non-root"
sid="$(curl -fsS "$a/synthesize" -F text="Hello from a container." -F seed=1 -F max_new_tokens=20 \
    -F voice_prompt=@"$tmp/voice.wav" | field session_id)"
curl -fsS "$a/play/$sid" -o "$tmp/a.wav"
[ "$(head -c 4 "$tmp/a.wav")" = RIFF ] || fail "/play did not answer a WAV"
curl -fsS "$a/voices" -F name=carol -F audio=@"$tmp/voice.wav" >/dev/null
stop_gracefully "$P-a"

log "server containers B and C on the same volume"
run_server "$P-b"
run_server "$P-c"
wait_healthy "$P-b"
wait_healthy "$P-c"
b="$(url "$P-b")"
c="$(url "$P-c")"
curl -fsS "$b/play/$sid" -o "$tmp/b.wav"
cmp -s "$tmp/a.wav" "$tmp/b.wav" || fail "the new container does not play the earlier session"
[ "$(curl -fsS "$b/synthesize" -H 'content-type: application/json' \
    -d "{\"text\": \"Again.\", \"session_id\": \"$sid\", \"max_new_tokens\": 10}" | field voice)" = upload ] \
    || fail "the session's voice did not survive"
[ "$(curl -fsS "$b/synthesize" -H 'content-type: application/json' \
    -d '{"text": "Carol.", "voice": "carol", "max_new_tokens": 10}' | field voice)" = carol ] \
    || fail "the saved voice did not survive"
# C serves and continues B's session; B sees C's audio; C deletes it, B no longer has it.
curl -fsS "$c/synthesize" -H 'content-type: application/json' \
    -d "{\"text\": \"On C.\", \"session_id\": \"$sid\", \"max_new_tokens\": 10}" >/dev/null
curl -fsS "$c/play/$sid" -o "$tmp/c.wav"
curl -fsS "$b/play/$sid" -o "$tmp/b2.wav"
cmp -s "$tmp/c.wav" "$tmp/b2.wav" || fail "B does not serve the audio C made"
[ "$(curl -fsS "$b/sessions/$sid" | field generation)" = 3 ] || fail "B does not see C's generation"
curl -fsS "$c/delete" -H 'content-type: application/json' -d "{\"session_id\": \"$sid\"}" >/dev/null
[ "$(curl -s -o /dev/null -w '%{http_code}' "$b/play/$sid")" = 404 ] || fail "B still plays the deleted session"
stop_gracefully "$P-b"
stop_gracefully "$P-c"

# --- docker compose + the browser end-to-end test --------------------------------------------
log "docker compose up"
web_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
export WEB_PORT="$web_port" CHATTERBOX_THREADS=1
"$COMPOSE" -p "$P" -f deploy/docker-compose.yml up -d --no-build 2>/dev/null
backend="$("$COMPOSE" -p "$P" -f deploy/docker-compose.yml ps -q backend)"
webc="$("$COMPOSE" -p "$P" -f deploy/docker-compose.yml ps -q web)"
wait_healthy "$backend"
wait_healthy "$webc"
backend_ip="$("$DOCKER" inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$backend")"
[ -d web/node_modules ] || (cd web && npm ci --no-audit --no-fund --loglevel=error)
[ -f web/.next/standalone/server.js ] || (cd web && npm run build --silent)
./scripts/install-chromium.sh
log "browser e2e against the compose stack (web :$web_port -> backend by service name)"
(
    cd web
    CBX_SERVER_BIN="$target/release/chatterbox-server" CBX_TINY_BIN="$target/release/examples/tiny_checkpoint" \
        CBX_E2E_WEB="http://127.0.0.1:$web_port" CBX_E2E_BACKEND="http://$backend_ip:7860" \
        node --test --test-reporter=spec tests/e2e.test.mjs
)
t0=$(date +%s)
"$COMPOSE" -p "$P" -f deploy/docker-compose.yml stop -t "$GRACE" 2>/dev/null
[ $(($(date +%s) - t0)) -lt "$GRACE" ] || fail "compose stop needed the whole grace period"
code="$("$DOCKER" inspect -f '{{.State.ExitCode}}' "$backend")"
[ "$code" = 0 ] || fail "the compose backend exited with $code"
# Node's convention on SIGTERM is 143 (128 + 15), at once; 137 would be the grace's SIGKILL.
code="$("$DOCKER" inspect -f '{{.State.ExitCode}}' "$webc")"
case "$code" in 0 | 143) ;; *) fail "the compose web UI exited with $code" ;; esac
log "compose stop: backend exit 0, web exit $code, in $(($(date +%s) - t0)) s"
log "done in $(($(date +%s) - start)) s"
