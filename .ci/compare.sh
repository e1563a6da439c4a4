#!/usr/bin/env bash
# The main job: generate both services, load-test them side by side, write the report.
# Extra arguments go to `python -m loadtest compare` (default: --quick).
set -euo pipefail
cd "$(dirname "$0")/.."
SKIP_BROWSER=1 bash .ci/setup.sh
if [ "$#" -eq 0 ]; then
    set -- --quick
fi
exec .venv/bin/python -m loadtest compare "$@"
