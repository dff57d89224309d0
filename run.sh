#!/usr/bin/env bash
# The main job. Sets everything up on first use, then:
#   with a display: starts SasView with the Model Suggestion perspective (extra args go to SasView);
#   without one:    the headless demo, ranking sasdata's example files (extra args go to sasnets-suggest).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$ROOT/tools/bootstrap.sh"
if [ -n "${DISPLAY:-}" ] && [ -x "$VENV/bin/sasnets-sasview" ]; then
    ensure_xvfb || true
    exec "$VENV/bin/sasnets-sasview" "$@"
fi
echo "No display: running the headless demo (sasnets-suggest --demo)." >&2
exec "$VENV/bin/sasnets-suggest" --demo "$@"
