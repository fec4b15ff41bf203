#!/usr/bin/env bash
# Train the three default models at once on one GPU, each within a wall-clock budget.
#
#   OUT=/path/to/out MINUTES=5 bash models/device_train.sh
#
# Needs: python3 with torch (CUDA), numpy, safetensors, tqdm, pillow; no music21, no
# network. Reads devdata/ (python -m models.prepare_devdata). Writes to $OUT, flat:
# textures.*, corpus.*, shakespeare.* (.safetensors + .json card) and train.log.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-out}
DEVICE=${DEVICE:-cuda}
MINUTES=${MINUTES:-5}        # training budget per model; evaluation and saving come after
THREADS=${THREADS:-4}        # CPU threads per process: three processes share the box
PY=${PY:-python3}
CKPT=${CKPT:-/tmp/livegen_ckpt}
mkdir -p "$OUT"
LOG="$OUT/train.log"
: > "$LOG"
{
  echo "device_train: $(date -u +%FT%TZ) DEVICE=$DEVICE MINUTES=$MINUTES"
  $PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name() if torch.cuda.is_available() else '')"
  ls -la devdata
} >> "$LOG" 2>&1
if [ ! -f devdata/music21_notes.npz ] || [ ! -f devdata/skimage_images.npz ] || [ ! -f devdata/tinyshakespeare.txt ]; then
  echo "devdata/ is incomplete: run python -m models.prepare_devdata first" | tee -a "$LOG"
  exit 2
fi
common=(--device "$DEVICE" --max-minutes "$MINUTES" --out-dir "$OUT" --ckpt-dir "$CKPT"
        --threads "$THREADS" --quiet --steps 1000000 --ckpt-every 2000 --save-dtype float16)
# a hung process must not hold the others' results: each gets the budget plus 3 minutes
LIMIT=()
if command -v timeout > /dev/null; then
  LIMIT=(timeout -s INT "$($PY -c "print(int(float('$MINUTES') * 60 + 180))")")
fi
run() {  # name, then train arguments; output prefixed into the one log
  local tag=$1; shift
  PYTHONUNBUFFERED=1 ${LIMIT[@]+"${LIMIT[@]}"} $PY -m models.train "$@" "${common[@]}" 2>&1 |
    while IFS= read -r line; do printf '[%s] %s\n' "$tag" "$line"; done >> "$LOG"
}
run gan   gan   --data devdata/skimage_images.npz --name textures    ${GAN_ARGS:---batch 64} &
run music music --data devdata/music21_notes.npz  --name corpus      ${MUSIC_ARGS:---batch 64 --arch dropout=0.2} &
run text  text  --data devdata/tinyshakespeare.txt --name shakespeare ${TEXT_ARGS:---batch 128 --arch dropout=0.3} &
wait
echo "device_train: done $(date -u +%FT%TZ)" >> "$LOG"
ls -la "$OUT" >> "$LOG"
grep -h '"event": "saved"' "$LOG" || true
tail -n 5 "$LOG"
