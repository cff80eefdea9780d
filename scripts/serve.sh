#!/usr/bin/env bash
# Start genloom: creates .venv on first run, installs the package, then runs `genloom serve`.
# Every argument is passed on:  bash scripts/serve.sh --port 9000 --workers 2
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
ensure_venv ""
exec .venv/bin/genloom serve "$@"
