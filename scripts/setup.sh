#!/usr/bin/env bash
# setup.sh - install everything qmac needs on a fresh Debian 12 machine. Idempotent:
# it only installs what is missing, so the Makefile can call it before any target.
#
#   scripts/setup.sh           Debian packages + the Python test-oracle venv (.venv)
#   scripts/setup.sh --check   exit 0 when nothing is missing, 1 otherwise (installs nothing)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
REQS="$ROOT/scripts/requirements.txt"

# Debian packages: toolchain, HDL tools, libraries the C code links against.
DEB_PKGS=(build-essential pkg-config python3 python3-venv
          verilator yosys nextpnr-ice40
          libcmocka-dev libprotobuf-c-dev protobuf-c-compiler libcjson-dev)

missing_debs() {
    local p out=()
    for p in "${DEB_PKGS[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || out+=("$p")
    done
    echo "${out[@]:-}"
}

venv_ok() {
    [ -x "$VENV/bin/python" ] && [ -f "$VENV/.stamp" ] && cmp -s "$REQS" "$VENV/.stamp"
}

if [ "${1:-}" = "--check" ]; then
    [ -z "$(missing_debs)" ] && venv_ok && exit 0
    exit 1
fi

need=$(missing_debs)
if [ -n "$need" ]; then
    echo "setup: installing Debian packages: $need"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    log=$(mktemp /tmp/qmac-setup-apt.XXXXXX)
    # shellcheck disable=SC2086
    if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
            --no-install-recommends $need; } >"$log" 2>&1; then
        cat "$log"
        echo "setup: apt-get failed (log above)" >&2
        exit 1
    fi
    rm -f "$log"
fi

if ! venv_ok; then
    echo "setup: creating Python venv for the test oracles in $VENV"
    # Prefer Debian's interpreter so the venv works on any fresh machine.
    PY=/usr/bin/python3
    [ -x "$PY" ] || PY=python3
    [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQS"
    cp "$REQS" "$VENV/.stamp"
fi
echo "setup: ok"
