#!/usr/bin/env bash
# Local stand-ins for the public base images the Dockerfiles name, for a Docker engine that cannot
# reach Docker Hub (this CI machine). Each image is left alone when it is already present or can be
# pulled; only otherwise is a stand-in built under the same name, labelled
# org.chatterbox-rs.stand-in=true:
#   debian:bookworm-slim       debootstrap --variant=minbase bookworm, then `docker import`
#   python:3.11-slim-bookworm  that + Debian's python3 (3.11 in bookworm)
#   node:20-bookworm-slim      that + this host's Node.js 20 (node binary and npm) copied in
# The python and node stand-ins also trust this host's CA bundle (NODE_EXTRA_CA_CERTS, pip's
# cert): where egress goes through a TLS-inspecting proxy, npm and pip in a build need its CA.
# The Dockerfiles are untouched: with registry access they use the real images.
#   rust:1.95-bookworm         only with STANDINS_RUST=1: that + this host's Rust 1.95 toolchain
#                              (CI does not compile inside Docker; see README "Deploy")
#   scripts/docker-stand-ins.sh            (root: debootstrap and the Docker socket)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/docker-client.sh
. scripts/docker-client.sh
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
LABEL="org.chatterbox-rs.stand-in=true"
HOST_CA="${HOST_CA:-/etc/ssl/certs/ca-certificates.crt}"

available() {
    "$DOCKER" image inspect "$1" >/dev/null 2>&1 && return 0
    timeout 120 "$DOCKER" pull -q "$1" >/dev/null 2>&1
}

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

if available debian:bookworm-slim; then
    echo "stand-ins: debian:bookworm-slim present"
else
    echo "stand-ins: building debian:bookworm-slim (debootstrap minbase, $MIRROR)"
    command -v debootstrap >/dev/null || { echo "stand-ins: needs debootstrap (apt-get install debootstrap)" >&2; exit 1; }
    debootstrap --variant=minbase bookworm "$tmp/rootfs" "$MIRROR" >"$tmp/debootstrap.log" 2>&1 \
        || { tail -20 "$tmp/debootstrap.log" >&2; exit 1; }
    rootfs="${tmp:?}/rootfs"
    [ -x "$rootfs/usr/bin/apt-get" ] || { echo "stand-ins: no root file system in $rootfs" >&2; exit 1; }
    # Configured as the official image is (debuerreotype): apt keeps no caches or translations,
    # dpkg installs no docs, man pages or locales; the bookworm, -updates and -security suites.
    clean='"rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"'
    printf '%s\n' "DPkg::Post-Invoke { $clean; };" "APT::Update::Post-Invoke { $clean; };" \
        'Dir::Cache::pkgcache "";' 'Dir::Cache::srcpkgcache "";' \
        >"$rootfs/etc/apt/apt.conf.d/docker-clean"
    printf '%s\n' 'Acquire::Languages "none";' >"$rootfs/etc/apt/apt.conf.d/docker-no-languages"
    printf '%s\n' 'Acquire::GzipIndexes "true";' 'Acquire::CompressionTypes::Order:: "gz";' \
        >"$rootfs/etc/apt/apt.conf.d/docker-gzip-indexes"
    printf '%s\n' 'Apt::AutoRemove::SuggestsImportant "false";' \
        >"$rootfs/etc/apt/apt.conf.d/docker-autoremove-suggests"
    printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
        'path-exclude /usr/share/man/*' 'path-exclude /usr/share/groff/*' \
        'path-exclude /usr/share/info/*' 'path-exclude /usr/share/lintian/*' \
        'path-exclude /usr/share/linda/*' 'path-exclude /usr/share/locale/*' \
        'path-include /usr/share/locale/locale.alias' >"$rootfs/etc/dpkg/dpkg.cfg.d/docker"
    rm -f "$rootfs/etc/apt/sources.list"
    printf '%s\n' 'Types: deb' "URIs: $MIRROR" 'Suites: bookworm bookworm-updates' \
        'Components: main' 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' '' \
        'Types: deb' "URIs: ${MIRROR%/debian}/debian-security" 'Suites: bookworm-security' \
        'Components: main' 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' \
        >"$rootfs/etc/apt/sources.list.d/debian.sources"
    find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
        "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/usr/share/man/* \
        "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/*
    tar -C "$tmp/rootfs" -c . | "$DOCKER" import \
        --change "LABEL $LABEL" \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["bash"]' - debian:bookworm-slim >/dev/null
    rm -rf "$tmp/rootfs"
fi

if available python:3.11-slim-bookworm; then
    echo "stand-ins: python:3.11-slim-bookworm present"
else
    echo "stand-ins: building python:3.11-slim-bookworm (Debian python3)"
    mkdir -p "$tmp/python"
    cp "$HOST_CA" "$tmp/python/host-ca.crt"
    cat >"$tmp/python/Dockerfile" <<EOF
FROM debian:bookworm-slim
LABEL $LABEL
ENV PIP_BREAK_SYSTEM_PACKAGES=1 PIP_CERT=/etc/ssl/certs/host-ca.crt
COPY host-ca.crt /etc/ssl/certs/host-ca.crt
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-pip ca-certificates \\
    && ln -s /usr/bin/python3 /usr/local/bin/python && rm -rf /var/lib/apt/lists/*
CMD ["python3"]
EOF
    "$DOCKER" build -q -t python:3.11-slim-bookworm "$tmp/python" >/dev/null
fi

if available node:20-bookworm-slim; then
    echo "stand-ins: node:20-bookworm-slim present"
else
    echo "stand-ins: building node:20-bookworm-slim (this host's Node.js)"
    node_bin="$(command -v node || true)"
    if [ -z "$node_bin" ] || [ "$(node -p 'process.versions.node.split(".")[0]')" != 20 ]; then
        echo "stand-ins: node:20-bookworm-slim needs Node.js 20 on this host" >&2
        exit 1
    fi
    npm_dir="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
    mkdir -p "$tmp/node"
    cp "$(readlink -f "$node_bin")" "$tmp/node/node"
    cp -r "$npm_dir" "$tmp/node/npm"
    cp "$HOST_CA" "$tmp/node/ca-certificates.crt"
    cat >"$tmp/node/Dockerfile" <<EOF
FROM debian:bookworm-slim
LABEL $LABEL
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
    && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
    && groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \\
    && node --version && npm --version
CMD ["node"]
EOF
    "$DOCKER" build -q -t node:20-bookworm-slim "$tmp/node" >/dev/null
fi
if [ "${STANDINS_RUST:-0}" != 1 ]; then
    : # CI does not compile inside Docker (BINARY=prebuilt)
elif available rust:1.95-bookworm; then
    echo "stand-ins: rust:1.95-bookworm present"
else
    echo "stand-ins: building rust:1.95-bookworm (this host's Rust 1.95 toolchain)"
    sysroot="$(rustc --print sysroot)"
    case "$(rustc --version)" in "rustc 1.95."*) ;; *)
        echo "stand-ins: rust:1.95-bookworm needs Rust 1.95 on this host" >&2
        exit 1
        ;;
    esac
    mkdir -p "$tmp/rust/toolchain"
    cp -r "$sysroot/bin" "$sysroot/lib" "$sysroot/libexec" "$tmp/rust/toolchain/"
    cp "$HOST_CA" "$tmp/rust/host-ca.crt"
    cat >"$tmp/rust/Dockerfile" <<EOF
FROM debian:bookworm-slim
LABEL $LABEL
COPY host-ca.crt /etc/ssl/certs/host-ca.crt
ENV CARGO_HOME=/usr/local/cargo PATH=/usr/local/rust/bin:/usr/local/cargo/bin:\$PATH \\
    CARGO_HTTP_CAINFO=/etc/ssl/certs/host-ca.crt
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates gcc libc6-dev make \\
    && rm -rf /var/lib/apt/lists/*
COPY toolchain /usr/local/rust
RUN cargo --version && rustc --version
EOF
    "$DOCKER" build -q -t rust:1.95-bookworm "$tmp/rust" >/dev/null
fi
"$DOCKER" image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E '^(debian|python|node):' || true
