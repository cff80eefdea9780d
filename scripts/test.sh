#!/usr/bin/env bash
# Run the test suite with coverage: creates .venv on first run and installs genloom with its dev tools.
# Extra arguments go to pytest:  bash scripts/test.sh tests/core -x
# PostgreSQL and Redis tests run when GENLOOM_TEST_DATABASE_URL / GENLOOM_TEST_REDIS_URL are set (.ci/run sets them).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
ensure_venv "dev"
# Keep compiled bytecode (in .venv, out of the work tree) even where the environment says not to write it: the
# suite starts many genloom processes, and each would compile every module it imports again (seconds apiece).
unset PYTHONDONTWRITEBYTECODE
export PYTHONPYCACHEPREFIX="${PYTHONPYCACHEPREFIX:-$GENLOOM_ROOT/.venv/pycache}"
exec .venv/bin/python -m pytest --cov=genloom --cov-report=term --cov-fail-under=85 --durations=15 -q "$@"
