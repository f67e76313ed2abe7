# shellcheck shell=bash
# Sourced by the docker scripts: picks a Docker client that can build with BuildKit and exports
# DOCKER. A client with the buildx plugin will do; without it, Debian's docker.io 20.10 client
# (/usr/bin/docker) drives the daemon's embedded BuildKit itself (DOCKER_BUILDKIT=1), where a newer
# client without buildx refuses to build.
export DOCKER_BUILDKIT=1
if [ -z "${DOCKER:-}" ]; then
    if docker buildx version >/dev/null 2>&1; then
        DOCKER=docker
    elif [ -x /usr/bin/docker ]; then
        DOCKER=/usr/bin/docker
    else
        DOCKER=docker
    fi
fi
export DOCKER
