# Shared by serve.sh, test.sh and lock.sh: make sure .venv exists and holds this checkout with the locked
# versions (requirements.txt, or requirements-dev.txt for the dev tools), installed by uv (fast, checks the
# lock's hashes). Re-installs only when the lock or pyproject.toml changed since the last install (a stamp).
set -euo pipefail

# uv installs the lock; its own version is pinned here so two machines install the same way
UV_VERSION="0.13.9"
# the Python the lock is resolved for (CI and the Dockerfile use 3.11)
LOCK_PYTHON="3.11"
GENLOOM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

_find_python() {
    local python="${PYTHON:-}"
    if [[ -z "$python" ]]; then
        for candidate in python3.11 python3.12 python3.13 python3; do
            if command -v "$candidate" >/dev/null 2>&1; then python="$candidate"; break; fi
        done
    fi
    echo "$python"
}

_ensure_python_venv() {
    if [[ ! -x .venv/bin/python ]]; then
        local python
        python="$(_find_python)"
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
}

# ensure_uv: .venv exists and has uv $UV_VERSION; sets UV to its path
ensure_uv() {
    cd "$GENLOOM_ROOT"
    _ensure_python_venv
    UV=".venv/bin/uv"
    if [[ ! -x "$UV" || "$("$UV" --version 2>/dev/null | cut -d' ' -f2)" != "$UV_VERSION" ]]; then
        echo "==> installing uv $UV_VERSION into .venv"
        .venv/bin/python -m pip install --disable-pip-version-check -q "uv==$UV_VERSION"
    fi
}

ensure_venv() {
    local extras="${1:-}"
    ensure_uv
    local lock="requirements.txt"
    [[ "$extras" == "dev" ]] && lock="requirements-dev.txt"
    local target="."
    [[ -n "$extras" ]] && target=".[$extras]"
    local stamp=".venv/.genloom-install${extras:+-$extras}"
    local digest
    digest="$(cat pyproject.toml "$lock" | .venv/bin/python -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')"
    if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$digest" ]]; then
        echo "==> installing the locked versions ($lock) and genloom ($target) into .venv"
        # exact pins with hashes; packages that are not in the lock are left alone (never uninstalled)
        "$UV" pip install --python .venv/bin/python --quiet --require-hashes -r "$lock"
        "$UV" pip install --python .venv/bin/python --quiet --no-deps -e "$target"
        echo "$digest" > "$stamp"
    fi
}
