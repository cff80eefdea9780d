# Shared by serve.sh and test.sh: make sure .venv exists and holds this checkout, installed with $1 extras.
# Re-installs only when pyproject.toml changed since the last install (a stamp file remembers).
set -euo pipefail

ensure_venv() {
    local extras="${1:-}"
    local root
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    cd "$root"
    local python="${PYTHON:-}"
    if [[ -z "$python" ]]; then
        for candidate in python3.11 python3.12 python3.13 python3; do
            if command -v "$candidate" >/dev/null 2>&1; then python="$candidate"; break; fi
        done
    fi
    if [[ ! -x .venv/bin/python ]]; then
        if [[ -z "$python" ]]; then
            echo "error: no python3 found; install Python 3.11+ or set PYTHON=/path/to/python3.11" >&2
            exit 1
        fi
        if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
            echo "error: genloom needs Python 3.11+; $python is $("$python" -V 2>&1). Set PYTHON=..." >&2
            exit 1
        fi
        echo "==> creating .venv with $("$python" -V 2>&1)"
        "$python" -m venv .venv
    fi
    local target="."
    [[ -n "$extras" ]] && target=".[$extras]"
    local stamp=".venv/.genloom-install${extras:+-$extras}"
    local digest
    digest="$(.venv/bin/python -c 'import hashlib,sys; print(hashlib.sha256(open("pyproject.toml","rb").read()).hexdigest())')"
    if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$digest" ]]; then
        echo "==> installing genloom ($target) into .venv"
        .venv/bin/python -m pip install --disable-pip-version-check -q --upgrade pip
        .venv/bin/python -m pip install --disable-pip-version-check -q -e "$target"
        echo "$digest" > "$stamp"
    fi
}
