#!/usr/bin/env bash
# The test suite. Sets everything up on first use, then runs pytest on a virtual screen
# (Xvfb) so the SasView GUI tests run on machines without a display. Extra args go to pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$ROOT/tools/bootstrap.sh"
ensure_xvfb
cd "$ROOT"
exec xvfb-run -a -s "-screen 0 1600x1000x24" "$VENV/bin/python" -m pytest "$@"
