#!/bin/sh
# Reproduces the bundled model from ../shared/data (or $SIAMFACE_DATA), in about 1 h 40 min on 2 cores (CI machine):
# the landmark model, teacher embeddings (cached), training, int8 export with its checks, and the shipped threshold.
#   sh train/make_default_model.sh          (from the repository root, with pip install -e '.[train,teacher]')
set -eu
DATA=${SIAMFACE_DATA:-../shared/data}
RUN=${RUN:-runs/default-model}
BIN=${BIN:-.venv/bin}
"$BIN/python" -m export.landmarks --out edge/models/landmarks-5.npz   # dlib's 5-point model as numpy arrays
"$BIN/train-model" --config train/recipes/default-model.yaml --output "$RUN"
"$BIN/export-model" "$RUN/model.keras" --out edge/models/siamface-mobile.onnx \
    --calibration "$DATA/train/celeba" --pairs "$DATA/dev/pairs.txt" --images "$DATA/dev/celeba" --keep-fp32
"$BIN/python" -m export.threshold --model edge/models/siamface-mobile.onnx --images "$DATA/dev/celeba" \
    --far 1e-3 --write config.yaml --plot "$RUN/threshold.png" --json "$RUN/threshold.json"
