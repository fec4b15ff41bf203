#!/usr/bin/env bash
# Run the livegen benchmark suite on a CUDA machine in one call and print the table.
#
#   bash bench/gpu.sh            # on the GPU machine (device cuda)
#   bash bench/gpu.sh cpu        # end-to-end check of this script on a machine without a GPU
#
# The machine needs python3 with torch (and optionally torchvision for GPU JPEG); our other
# packages come from the wheels in .whl/ at the repo root (no network needed). Results go to
# $OUT/ (bench.txt, bench.json, bench.partial.json, server logs) when OUT is set.
# Environment: PYTHON (default python3), BENCH_ARGS (extra `python -m bench` arguments),
# BENCH_TIMEOUT (main pass, default 150 s), TOTAL_LIMIT (whole script, default 170 s),
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

if [ "$DEVICE" = cuda ]; then
    # ~110 s: overhead at 256 (4 streams) and 512 (2 streams), fan-out, latency, start-up.
    ARGS=(--device cuda --quick --window 1.0 --repeats 2 --startup-repeats 1 --no-naive
          --only overhead,fanout,startup --overhead 256x4,512x2)
else
    ARGS=(--device cpu --smoke --overhead 128x1 --only overhead,fanout,startup)
fi
# shellcheck disable=SC2206
ARGS+=(${BENCH_ARGS:-})
LIMIT="${BENCH_TIMEOUT:-150}"
echo "== $PY -m bench ${ARGS[*]} --json --out $OUT   (limit ${LIMIT} s)"
timeout -k 5 "$LIMIT" "$PY" -m bench "${ARGS[@]}" --json --out "$OUT" > "$OUT/bench.stdout" 2> "$OUT/bench.stderr"
rc=$?
# The table (everything but the JSON line); on a timeout, the figures measured so far.
grep -v '^{' "$OUT/bench.stdout" || true
if [ $rc -ne 0 ]; then
    echo "== bench exited $rc; last stderr lines:"
    tail -n 30 "$OUT/bench.stderr"
    [ -f "$OUT/bench.partial.json" ] && echo "== partial results in $OUT/bench.partial.json:" \
        && cat "$OUT/bench.partial.json"
fi
echo "== server log lines about acceleration and errors (count, line):"
grep -h -i -E "accel|graph|GPU JPEG|Traceback|Error" "$OUT"/logs/*.log 2>/dev/null \
    | sed -E 's/^[0-9-]+ [0-9:,]+ //' | sort | uniq -c | sort -rn | head -20

# If time is left: the same 256 px figure with JPEG on the CPU encoder pool instead of the GPU.
LEFT=$(( ${TOTAL_LIMIT:-170} - SECONDS ))
if [ "$DEVICE" = cuda ] && [ "$LEFT" -gt 40 ] && [ "${LIVEGEN_GPU_JPEG:-1}" != 0 ]; then
    echo "== A/B: LIVEGEN_GPU_JPEG=0, overhead 256x4 (limit $((LEFT - 5)) s)"
    LIVEGEN_GPU_JPEG=0 timeout -k 5 $((LEFT - 5)) "$PY" -m bench --device cuda --quick --window 1.0 \
        --repeats 2 --no-naive --only overhead --overhead 256x4 --json --out "$OUT/cpu-jpeg" \
        > "$OUT/cpu-jpeg.stdout" 2> "$OUT/cpu-jpeg.stderr"
    grep -E "^-- 1|256px|MISS|ok  " "$OUT/cpu-jpeg.stdout" || tail -n 10 "$OUT/cpu-jpeg.stderr"
fi
echo "== done in ${SECONDS} s; results in $OUT"
rm -rf "$SITE"
exit $rc
