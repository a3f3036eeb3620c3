#!/usr/bin/env bash
# Run tests against an AddressSanitizer build of the compiled backend.
#
#   tools/asan_tests.sh                      # the kernel tests (default subset below)
#   tools/asan_tests.sh tests/test_foo.py    # any pytest arguments instead
#
# The checkout (tracked and untracked, not ignored, files as they are now) is copied to a temporary
# directory and built there with FASTGRAD_ASAN=1 (setup.py adds -fsanitize=address -fno-omit-frame-pointer
# -g to compile and link flags), so the checkout's own .so files are never touched. pytest then runs in
# the copy with libasan (and libstdc++) preloaded into python (python itself is not built with ASan), PYTHONMALLOC=malloc
# (every Python object is its own malloc block, so overflows into them are caught) and detect_leaks=0
# (CPython leaks by design at exit). Any "ERROR: AddressSanitizer" report fails the run; the reports are
# printed at the end. Exit status: 0 clean, 1 ASan error or test failure, 2 the build failed.
# FASTGRAD_ASAN_KEEP=1 keeps the temporary copy (its path is printed).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/fastgrad-asan.XXXXXX")
[ "${FASTGRAD_ASAN_KEEP:-0}" = 1 ] || trap 'rm -rf "$TMP"' EXIT
if [ $# -eq 0 ]; then
    set -- tests/test_kernels.py tests/test_kernels_conv.py tests/test_kernels_f64_math.py tests/test_kernels_fuzz.py \
        tests/test_kernels_gelu.py tests/test_kernels_rnn.py tests/nn/test_conv_pool_kernels.py
fi

echo "asan: copying $ROOT to $TMP"
(cd "$ROOT" && git ls-files -z -co --exclude-standard) | (cd "$ROOT" && xargs -0 cp --parents -t "$TMP" 2>/dev/null)
cd "$TMP" || exit 2
echo "asan: building (FASTGRAD_ASAN=1 python setup.py build_ext --inplace)"
if ! FASTGRAD_ASAN=1 python setup.py build_ext --inplace -q >build.log 2>&1; then
    tail -40 build.log
    echo "asan: BUILD FAILED"
    exit 2
fi
# libstdc++ is preloaded too: loaded later (by torch), its __cxa_throw is missed by ASan's interceptor, and the
# first C++ exception torch throws aborts with "CHECK failed: asan_interceptors.cpp ... real___cxa_throw"
LIBASAN="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libstdc++.so)"
nm -D fastgrad/_C*.so | grep -q __asan_init || { echo "asan: fastgrad/_C is not instrumented"; exit 2; }

echo "asan: running pytest $* with LD_PRELOAD=$LIBASAN"
LOG="$TMP/asan.log"
LD_PRELOAD="$LIBASAN" PYTHONMALLOC=malloc \
    ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=0:log_path=$TMP/asan-report:${ASAN_OPTIONS:-}" \
    python -m pytest -q -p no:cacheprovider "$@" 2>&1 | tee "$LOG"
status=${PIPESTATUS[0]}
reports=$(ls "$TMP"/asan-report* 2>/dev/null)
if [ -n "$reports" ] || grep -q "ERROR: AddressSanitizer" "$LOG"; then
    echo "asan: ADDRESS SANITIZER ERRORS"
    cat $reports 2>/dev/null | head -200
    exit 1
fi
if [ "$status" -ne 0 ]; then
    echo "asan: no AddressSanitizer error, but pytest exited with $status"
    exit 1
fi
echo "asan: clean (no AddressSanitizer error)"
