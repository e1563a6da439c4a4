#!/usr/bin/env bash
# Run the whole test suite on a fresh machine: installs what it needs, then runs pytest.
# Extra arguments go to pytest (for example: bash .ci/test.sh -k hooks).
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/setup.sh
exec .venv/bin/python -m pytest "$@"
