#!/usr/bin/env bash
# The test suite. Sets everything up on first use, then runs pytest on a virtual screen
# (Xvfb) so the SasView GUI tests run on machines without a display.
#
# Without arguments it runs two pytest processes: the tests outside tests/gui, then the
# SasView GUI tests. TensorFlow (Keras path, training) and SasView's OpenGL (Mesa's
# llvmpipe) each bring their own LLVM, and one process holding both crashes
# (sasnets_plugin.classifier.tensorflow_conflict). With arguments, they go to one pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$ROOT/tools/bootstrap.sh"
ensure_xvfb
cd "$ROOT"
run_pytest() {
    xvfb-run -a -s "-screen 0 1600x1000x24" "$VENV/bin/python" -m pytest "$@"
}
if [ "$#" -gt 0 ]; then
    run_pytest "$@"
    exit
fi
status=0
run_pytest tests --ignore=tests/gui || status=$?
run_pytest tests/gui || status=$?
exit "$status"
