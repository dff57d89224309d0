#!/usr/bin/env bash
# Shared set-up for ./run.sh and ./test.sh: find Python >= 3.12, create .venv/ in the
# checkout, install the package with its test extras, and (for the GUI) Xvfb.
# A second run reuses everything; it reinstalls only when pyproject.toml changed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
STAMP="$VENV/.sasnets-installed"
SYSTEM_PACKAGES=(xvfb xauth libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libxkbcommon-x11-0 libegl1 libgl1)

say() { printf '[setup] %s\n' "$*" >&2; }

python_ok() {  # SasView 6 needs 3.12+; TensorFlow 2.21 wheels stop at 3.13
    "$1" -c 'import sys, venv, ensurepip; sys.exit(not ((3, 12) <= sys.version_info[:2] <= (3, 13)))' 2>/dev/null
}

find_python() {
    local c
    for c in "${SASNETS_PYTHON:-}" python3.12 python3.13 \
             "$HOME"/.pyenv/versions/3.12*/bin/python3 "$HOME"/.pyenv/versions/3.13*/bin/python3 \
             /usr/local/bin/python3.12 /usr/bin/python3.12 /usr/local/bin/python3.13 /usr/bin/python3.13 python3; do
        [ -n "$c" ] || continue
        c="$(command -v "$c" 2>/dev/null || true)"
        if [ -n "$c" ] && python_ok "$c"; then echo "$c"; return 0; fi
    done
    return 1
}

ensure_venv() {
    if [ -x "$VENV/bin/python" ] && python_ok "$VENV/bin/python"; then return 0; fi
    local py
    if ! py="$(find_python)"; then
        say "No Python 3.12 or 3.13 found. SasView 6 needs Python >= 3.12."
        say "Install one (e.g. 'pyenv install 3.12', or your distribution's python3.12 with venv),"
        say "or point SASNETS_PYTHON at its interpreter, then run this again."
        exit 1
    fi
    say "creating $VENV with $py ($("$py" --version 2>&1))"
    rm -rf "$VENV"
    "$py" -m venv "$VENV"
}

ensure_packages() {
    local want
    want="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
    if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then return 0; fi
    say "installing SASNets with SasView, sasmodels, TensorFlow and test tools (a few minutes, once)"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -e "$ROOT[test]"
    echo "$want" > "$STAMP"
}

ensure_xvfb() {  # only the GUI and its tests need it
    local missing=() p
    for p in "${SYSTEM_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
    say "installing system packages for Qt on a virtual screen: ${missing[*]}"
    if ! command -v apt-get >/dev/null || \
       ! { DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}" >/dev/null || \
           { $sudo apt-get update -q >/dev/null && \
             DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}" >/dev/null; }; }; then
        say "could not install ${missing[*]}; install them (Debian/Ubuntu package names) to run the GUI."
        return 1
    fi
}

ensure_venv
ensure_packages
