#!/bin/bash
# Three nuclei trainings side by side on one GPU, each with 4 crop workers, then their
# weights, cards and logs to $OUT (the device tool's output folder; any folder elsewhere).
#
#   python benchmarks/pack_dsb_training.py .gpudata/dsb      # here: 526 images, 36 MB
#   MIN=6 OUT=DIR bash benchmarks/train_nuclei_gpu.sh         # there, from the repo root
#
# grey: the bundled model trained on (1 channel); colour: widened to 3 channels; scratch: a
# narrower colour U-Net (width 12, about half the inference time) from nothing. All balance
# the modalities' crops. Dry-run on CPU with MIN=0.2 CROPS=64 WORKERS=2 PY=.venv/bin/python;
# not yet run on a GPU (no machine was lent when it was written).
MIN=${MIN:-6.5}
PY=${PY:-python3}
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
nvidia-smi -L 2>/dev/null; nproc; $PY -c "import torch, numpy, cv2, skimage; print(torch.__version__, torch.cuda.is_available())"
common="--images .gpudata/dsb/images --masks .gpudata/dsb/masks --minutes $MIN --crops-per-epoch ${CROPS:-19200} --batch-size 32 --crop-size 256 --input-scale 1 --holdout-hash-percent 15 --patience 0 --seed 0 --balance-modalities --workers ${WORKERS:-4} --threads 2 --progress jsonl --name nuclei"
mkdir -p runs
train() { $PY -c "from seggui.cli import main; main()" train $common "$@"; }
train --base nuclei --learning-rate 0.001 --out runs/grey > runs/grey.log 2>&1 &
train --base nuclei --channels 3 --learning-rate 0.001 --out runs/colour > runs/colour.log 2>&1 &
train --channels 3 --width 12 --learning-rate 0.002 --out runs/scratch > runs/scratch.log 2>&1 &
sleep 90; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv 2>/dev/null; uptime
wait
for r in grey colour scratch; do
  cp runs/$r/weights.pt $OUT/${r}_weights.pt; cp runs/$r/card.json $OUT/${r}_card.json
  echo "== $r"; grep -v '"event": "checkpoint"' runs/$r.log | cut -c1-400
done > $OUT/log.txt 2>&1
cat $OUT/log.txt | grep -E '"done"|error|Traceback' ; ls -la $OUT
