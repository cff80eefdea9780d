#!/usr/bin/env bash
# Run the test suite with coverage: creates .venv on first run and installs genloom with its dev tools.
# Extra arguments go to pytest:  bash scripts/test.sh tests/core -x
# PostgreSQL and Redis tests run when GENLOOM_TEST_DATABASE_URL / GENLOOM_TEST_REDIS_URL are set (.ci/run sets them).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
ensure_venv "dev"
exec .venv/bin/python -m pytest --cov=genloom --cov-report=term --cov-fail-under=85 --durations=15 -q "$@"
