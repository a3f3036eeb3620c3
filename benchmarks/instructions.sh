#!/bin/bash
# Instructions per call of one statement, counted by callgrind (deterministic, unlike timings
# on a shared machine; benchmarks/NOTES.md E2, E6-E9). The statement runs N times and 0
# times in fresh interpreters; the difference divided by N is printed.
#
#   bash benchmarks/instructions.sh SETUP STATEMENT [N]
#   bash benchmarks/instructions.sh "a = fg.randn(100, requires_grad=True); b = fg.randn(100, requires_grad=True)" "a + b"
#   bash benchmarks/instructions.sh "from w2_step import *" "step()" 1000      # the W2 step of NOTES E6
#   bash benchmarks/instructions.sh "from inprocess import graph10_step; step = graph10_step(fg)" "step()"   # W4b
#
# SETUP runs with numpy as np and fastgrad as fg imported, and benchmarks/ on sys.path.
# Needs valgrind. FASTGRAD_BACKEND=numpy counts the NumPy backend; FASTGRAD_BUILD=DIR counts
# the fastgrad built in place in DIR (a git worktree of another commit).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
N=${3:-2000}
PY=$(python -c "import sys; print(sys.executable)")   # the interpreter itself, not a shim
F=$(mktemp /tmp/fg_instr_XXXXXX.py)
trap 'rm -f "$F" "$F.0" "$F.1"' EXIT
BUILD=${FASTGRAD_BUILD:-}
cat > "$F" <<PYEOF
import sys; sys.path.insert(0, "$HERE")
if "$BUILD":  # count the fastgrad built in place there (an editable install's hook outranks sys.path)
    sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
    sys.path.insert(0, "$BUILD")
import numpy as np, fastgrad as fg
assert not "$BUILD" or fg.__file__.startswith("$BUILD"), fg.__file__
$1
for _ in range(int(sys.argv[1])):
    $2
PYEOF
count() {
    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 valgrind --tool=callgrind --callgrind-out-file="$F.$2" \
        "$PY" "$F" "$1" 2>&1 | awk '/Collected/ {print $4}'
}
a=$(count "$N" 1)
b=$(count 0 0)
echo $(( (a - b) / N ))
