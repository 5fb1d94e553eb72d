#!/usr/bin/env bash
# Create ./.venv and install the pinned stack plus mmhg_plugin (editable). Idempotent:
# a second run checks a stamp and an import and returns in seconds.
#
# First run on a fresh 2-core machine: about 4-7 minutes, half of it compiling mmcv's C++ ops.
# The built mmcv wheel is cached in $MMHG_CACHE (default ~/.cache/mmhg), keyed by the mmcv,
# torch and Python versions, so later set-ups (new clones, CI re-runs) take ~2 minutes.
#
# Environment:
#   PYTHON           interpreter for the venv (default python3.11; 3.11 is what we test)
#   MMHG_VENV        venv location (default <repo>/.venv)
#   MMHG_CACHE       cache of built wheels (default ${XDG_CACHE_HOME:-~/.cache}/mmhg)
#   MMHG_KEEP_TORCH  1: keep the torch/torchvision already importable in the venv (e.g. your
#                    own CUDA build; create the venv with --system-site-packages to see one)
#   MAX_JOBS         parallel compile jobs for mmcv (default: number of cores)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REQ="$ROOT/requirements"
VENV=${MMHG_VENV:-$ROOT/.venv}
PYTHON=${PYTHON:-python3.11}
CACHE=${MMHG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mmhg}
KEEP_TORCH=${MMHG_KEEP_TORCH:-0}
export MAX_JOBS=${MAX_JOBS:-$(nproc)}

say() { printf '[setup %(%H:%M:%S)T] %s\n' -1 "$*"; }
pin() { grep -E "^$1==" "$REQ/$2" | head -n1 | cut -d= -f3; }
# pip prints a warning per package for this machine's unused extra index; drop only that line.
pip_q() { "$VENV/bin/python" -m pip -q "$@" 2>&1 | { grep -v 'is ignored: it is neither' || true; }; return "${PIPESTATUS[0]}"; }

stamp_inputs() {
    cat "$REQ"/*.txt "$ROOT/setup.py" "$ROOT/tools/setup_env.sh"
    echo "keep_torch=$KEEP_TORCH"
}
STAMP_VALUE=$(stamp_inputs | sha256sum | cut -c1-16)
STAMP_FILE="$VENV/.mmhg-setup-stamp"

if [[ -f "$STAMP_FILE" && "$(cat "$STAMP_FILE")" == "$STAMP_VALUE" ]] &&
    "$VENV/bin/python" -c 'import mmcv.ops, mmpose, mmhg_plugin' 2>/dev/null; then
    say "environment up to date ($VENV)"
    exit 0
fi

start=$SECONDS
if [[ ! -x "$VENV/bin/python" ]]; then
    command -v "$PYTHON" >/dev/null || { echo "setup: $PYTHON not found; set PYTHON=" >&2; exit 1; }
    say "creating venv $VENV with $($PYTHON --version)"
    "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"

say "build tools"
pip_q install -r "$REQ/build.txt"

if [[ "$KEEP_TORCH" == 1 ]] && "$PY" -c 'import torch, torchvision' 2>/dev/null; then
    say "keeping torch $("$PY" -c 'import torch; print(torch.__version__)') (MMHG_KEEP_TORCH=1)"
else
    say "torch and torchvision (from requirements/torch.txt)"
    pip_q install -r "$REQ/torch.txt"
fi

say "runtime dependencies"
pip_q install -r "$REQ/runtime.txt" -r "$REQ/tests.txt"

XTCOCO=$(pin xtcocotools openmmlab.txt)
if ! "$PY" -c "import xtcocotools, importlib.metadata as m; assert m.version('xtcocotools') == '$XTCOCO'; from xtcocotools.coco import COCO" 2>/dev/null; then
    say "xtcocotools $XTCOCO from source (against numpy $(pin numpy build.txt))"
    pip_q install --no-build-isolation --no-binary xtcocotools "xtcocotools==$XTCOCO"
fi

MMCV=$(pin mmcv openmmlab.txt)
TORCH_VER=$("$PY" -c 'import torch; print(torch.__version__)')
PY_TAG=$("$PY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
WHEEL_DIR="$CACHE/wheels/mmcv-$MMCV-torch$TORCH_VER-$PY_TAG"
if ! "$PY" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '$MMCV'" 2>/dev/null; then
    if ! ls "$WHEEL_DIR"/mmcv-"$MMCV"-*.whl >/dev/null 2>&1; then
        say "building mmcv $MMCV with ops for torch $TORCH_VER (first time only, about 2-5 min on 2 cores)"
        work=$(mktemp -d)
        pip_q download --no-deps --no-binary :all: -d "$work" "mmcv==$MMCV"
        tar -xzf "$work"/mmcv-"$MMCV".tar.gz -C "$work"
        src="$work/mmcv-$MMCV"
        # torch >= 2.10 headers require C++20; mmcv 2.1.0 hard-codes -std=c++17.
        sed -i "s/extra_compile_args\['cxx'\] = \['-std=c++17'\]/extra_compile_args['cxx'] = ['-std=c++20', '-g0']/" "$src/setup.py"
        grep -q "std=c++20" "$src/setup.py" || { echo "setup: could not patch mmcv's setup.py" >&2; exit 1; }
        mkdir -p "$WHEEL_DIR"
        # Each of mmcv's ~77 C++ sources spends most of its compile parsing <torch/types.h>
        # (14 of 15 s for a typical one); they all include it first, so a compiler wrapper
        # precompiles it once (~30 s) and gives every source the precompiled header: the
        # compile takes about a third of the time. Where the header cannot be precompiled,
        # or GCC finds it does not match, the sources compile as before.
        real_cxx=${CXX:-c++}
        (cd "$src" && export MMHG_REAL_CXX="$real_cxx" MMHG_PCH_DIR="$work" &&
            CXX="$ROOT/tools/misc/pch_cxx.sh" MMCV_WITH_OPS=1 pip_q wheel --no-build-isolation \
                --no-deps -w "$WHEEL_DIR" .)
        rm -rf "$work"
    else
        say "mmcv $MMCV from the wheel cache ($WHEEL_DIR)"
    fi
    pip_q install --no-deps --force-reinstall "$WHEEL_DIR"/mmcv-"$MMCV"-*.whl
fi

say "mmdet and mmpose (--no-deps)"
pip_q install --no-deps "mmdet==$(pin mmdet openmmlab.txt)" "mmpose==$(pin mmpose openmmlab.txt)"

say "mmhg_plugin (editable)"
pip_q install --no-deps --no-build-isolation -e "$ROOT"

"$PY" -c 'import mmcv.ops, mmpose.models, mmhg_plugin' 2>/dev/null || {
    echo "setup: the stack does not import; run: $PY -c 'import mmcv.ops, mmpose.models, mmhg_plugin'" >&2
    exit 1
}
echo "$STAMP_VALUE" >"$STAMP_FILE"
say "done in $((SECONDS - start)) s: $VENV"
