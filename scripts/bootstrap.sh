#!/usr/bin/env bash
# Installs the system packages the build needs (libsoxr for soxr-exact resampling, pkg-config to
# find it; make and a C compiler for the vendored LAME that the MP3 encoder builds with its
# configure script). Idempotent: does nothing when they are already present.
set -euo pipefail
if pkg-config --exists soxr 2>/dev/null && command -v make >/dev/null && command -v cc >/dev/null; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: install libsoxr (dev headers) and pkg-config with your package manager" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends libsoxr-dev pkg-config make gcc libc6-dev >/dev/null
pkg-config --exists soxr
