#!/usr/bin/env bash
# Run the livegen benchmark suite on a CUDA machine in one call and print the table.
#
#   bash bench/gpu.sh            # on the GPU machine (device cuda)
#   bash bench/gpu.sh cpu        # end-to-end check of this script on a machine without a GPU
#
# The machine needs python3 with torch (and optionally torchvision for GPU JPEG); our other
# packages come from the wheels in .whl/ at the repo root (no network needed). Results go to
# $OUT/ (one folder per pass: ratio/, main/, cpu-jpeg/, each with bench.txt, bench.json and
# server logs) when OUT is set; ~6 minutes on an H100, under the issue's 8.
# Environment: PYTHON (default python3), BENCH_ARGS (extra arguments for the main pass),
# RATIO_TIMEOUT and BENCH_TIMEOUT (the two passes, default 150 s each), TOTAL_LIMIT (whole
# script, default 420 s: the JPEG A/B runs only if time is left),
# LIVEGEN_COMMIT (the commit, for a copy of the tree without .git).
set -uo pipefail
cd "$(dirname "$0")/.."
DEVICE="${1:-cuda}"
PY="${PYTHON:-python3}"
OUT="${OUT:-/tmp/livegen-bench-out}"
mkdir -p "$OUT"
SITE="$(mktemp -d /tmp/livegen-site.XXXXXX)"

echo "== livegen bench/gpu.sh: device $DEVICE, $(date -u +%FT%TZ), commit ${LIVEGEN_COMMIT:-$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)}"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader 2>/dev/null || echo "(no nvidia-smi)"
"$PY" -c 'import sys, torch; print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())'

# Install from .whl/ only what this python lacks (module name = wheel name prefix).
install() {  # install MODULE WHEEL_GLOB
    if ! "$PY" -c "import $1" 2>/dev/null; then
        local wheels=(.whl/$2)
        if [ -e "${wheels[0]}" ]; then
            if "$PY" -m pip install -q --no-index --no-deps --target "$SITE" "${wheels[@]}"; then
                echo "installed ${wheels[*]##*/}"
            else  # no pip: a wheel is a zip file laid out for sys.path
                for w in "${wheels[@]}"; do "$PY" -m zipfile -e "$w" "$SITE"; done
                echo "unpacked ${wheels[*]##*/}"
            fi
        else
            echo "missing: python module $1 and no .whl/$2"
        fi
    fi
}
install websockets 'websockets-*.whl'
install pythonosc 'python_osc-*.whl'
install mido 'mido-*.whl'
install pretty_midi 'pretty_midi-*.whl'
install six 'six-*.whl'
install packaging 'packaging-*.whl'
install importlib_resources 'importlib_resources-*.whl'
if [ "$DEVICE" = cuda ]; then
    install torchvision 'torchvision-*.whl'  # GPU JPEG; must match torch's CUDA, else CPU JPEG
fi
export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
# Probe GPU JPEG in a separate process: if it fails (or crashes), the servers encode on the CPU.
if [ "$DEVICE" = cuda ]; then
    if timeout 60 "$PY" -c 'import torch, torchvision; from torchvision.io import encode_jpeg
x = torch.zeros(3, 64, 64, dtype=torch.uint8, device="cuda")
print("torchvision", torchvision.__version__, "GPU JPEG ok,", encode_jpeg([x], 80)[0].numel(), "bytes")'; then
        :
    else
        echo "GPU JPEG unavailable: frames are JPEG-encoded on the CPU (LIVEGEN_GPU_JPEG=0)"
        export LIVEGEN_GPU_JPEG=0
    fi
fi

# Heavy untrained generators (89-151 M parameters): a shipped-size one runs thousands of fps
# bare on a big GPU, far over the 240 fps-per-stream cap of /visual/fps, so "delivered / bare"
# is only measurable with networks whose bare rate falls under the cap times the streams.
HEAVY=(g256:256:272:1536 g512:512:160:2048)
HEAVY_DIR=.cache/heavy
if [ "$DEVICE" = cuda ]; then
    MAIN=(--device cuda --quick --window 1.0 --repeats 2 --startup-repeats 1 --no-naive
          --only overhead,fanout,startup --overhead 256x4,512x2)
    RATIO=(--device cuda --quick --window 1.5 --repeats 3 --no-naive --only overhead
           --overhead "$HEAVY_DIR/g256x4,$HEAVY_DIR/g512x2")
else
    MAIN=(--device cpu --smoke --overhead 128x1 --only overhead,fanout,startup)
    HEAVY=(g256:256:32:128)
    RATIO=(--device cpu --smoke --no-naive --only overhead --overhead "$HEAVY_DIR/g256x1")
fi
# shellcheck disable=SC2206
MAIN+=(${BENCH_ARGS:-})

bench() {  # bench NAME LIMIT ARGS...: one `python -m bench` pass into $OUT/NAME
    local name=$1 limit=$2
    shift 2
    echo "== [$name] $PY -m bench $* --json   (limit ${limit} s)"
    timeout -k 5 "$limit" "$PY" -m bench "$@" --json --out "$OUT/$name" \
        > "$OUT/$name.stdout" 2> "$OUT/$name.stderr"
    local rc=$?
    grep -v '^{' "$OUT/$name.stdout" || true  # the table; the JSON is in $OUT/$name/bench.json
    if [ $rc -ne 0 ]; then
        echo "== [$name] exited $rc; last stderr lines:"
        tail -n 30 "$OUT/$name.stderr"
        [ -f "$OUT/$name/bench.partial.json" ] && echo "== partial results in $OUT/$name/bench.partial.json"
    fi
    return $rc
}

# 1. The accelerated engine path is correct on this device: every pipelined frame against the
#    eager float32 image of its own latent (tests/test_accel.py; skipped without CUDA).
echo "== tests/test_accel.py on $DEVICE"
timeout -k 5 180 "$PY" -m pytest -q -p no:cacheprovider tests/test_accel.py 2>&1 | tail -n 15
tests_rc=${PIPESTATUS[0]}

# 2. Delivered / bare forward with the heavy generators.
"$PY" -m bench.make_untrained "$HEAVY_DIR" "${HEAVY[@]}" || echo "== making heavy generators failed"
bench ratio "${RATIO_TIMEOUT:-150}" "${RATIO[@]}"
rc=$?

# 3. The suite on shipped-size generators: fps at 256 and 512, fan-out, latency, start-up.
bench main "${BENCH_TIMEOUT:-150}" "${MAIN[@]}" || rc=$?
echo "== server log lines about acceleration and errors (count, line):"
grep -h -i -E "accel|graph|GPU JPEG|Traceback|Error" "$OUT"/*/logs/*.log 2>/dev/null \
    | sed -E 's/^[0-9-]+ [0-9:,]+ //' | sort | uniq -c | sort -rn | head -20

# 4. If time is left: the heavy 256 px figure with JPEG on the CPU encoder pool instead.
LEFT=$(( ${TOTAL_LIMIT:-420} - SECONDS ))
if [ "$DEVICE" = cuda ] && [ "$LEFT" -gt 50 ] && [ "${LIVEGEN_GPU_JPEG:-1}" != 0 ]; then
    LIVEGEN_GPU_JPEG=0 bench cpu-jpeg $((LEFT - 5)) --device cuda --quick --window 1.5 --repeats 2 \
        --no-naive --only overhead --overhead "$HEAVY_DIR/g256x4" > "$OUT/cpu-jpeg.table" || true
    grep -E "^-- 1|x4 stream|MISS|ok  " "$OUT/cpu-jpeg.table"
fi
echo "== done in ${SECONDS} s (tests exit $tests_rc, bench exit $rc); results in $OUT"
rm -rf "$SITE"
[ "$tests_rc" -eq 0 ] || exit "$tests_rc"
exit $rc
