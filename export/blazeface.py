"""MediaPipe's BlazeFace short-range face detector (Apache-2.0) to the ONNX file the device ships.

    python -m siamface.export.blazeface [--out edge/models/blazeface-short-range.onnx]

The TFLite model is taken from the mediapipe wheel on PyPI (fetched with `pip download --no-deps`,
never installed: its pins clash with the training stack), checked against its known SHA-256,
converted with tf2onnx, given a free batch dimension (so the tiles of a frame run in one call), and
checked against TensorFlow Lite's own interpreter on real faces before it is written.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from siamface.edge.atomic import write_atomically
from siamface.edge.errors import SiamfaceError
from siamface.edge.loop.blazeface import DEFAULT_BLAZEFACE, letterbox

WHEEL = "mediapipe==0.10.21"
MEMBER = "mediapipe/modules/face_detection/face_detection_short_range.tflite"
SHA256 = "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8"
OPSET = 17


def fetch_tflite(folder: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", WHEEL, "-d", str(folder)], check=True
    )
    wheel = next(folder.glob("mediapipe-*.whl"))
    data = zipfile.ZipFile(wheel).read(MEMBER)
    if hashlib.sha256(data).hexdigest() != SHA256:
        raise SiamfaceError(f"{wheel}: {MEMBER} is not the file this script was checked with (SHA-256 differs)")
    path = folder / Path(MEMBER).name
    path.write_bytes(data)
    return path


def free_batch(model) -> None:
    """tf2onnx writes batch 1 into the graph: the reshapes of the per-layer outputs become
    (0, -1, k), keeping each image's anchors together, and the inputs and outputs take any batch."""
    from onnx import numpy_helper

    reshape_shapes = {n.input[1] for n in model.graph.node if n.op_type == "Reshape"}
    for i, init in enumerate(model.graph.initializer):
        if init.name in reshape_shapes:
            shape = numpy_helper.to_array(init).copy()
            if shape[0] == 1:
                shape[0] = 0
                model.graph.initializer[i].CopyFrom(numpy_helper.from_array(shape, init.name))
    for value in [*model.graph.input, *model.graph.output]:
        value.type.tensor_type.shape.dim[0].dim_param = "batch"


def check(onnx_bytes: bytes, tflite: Path, faces: list[np.ndarray]) -> float:
    """Largest difference of ONNX from TFLite's interpreter, over the given 128x128 inputs run as one batch."""
    import onnxruntime as ort
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_path=str(tflite))
    interpreter.allocate_tensors()
    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    batch = np.stack(faces).astype(np.float32)
    ours = session.run(["regressors", "classificators"], {"input": batch})
    worst = 0.0
    for i, image in enumerate(batch):
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], image[None])
        interpreter.invoke()
        outputs = {d["name"]: interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()}
        for name, mine in zip(("regressors", "classificators"), ours):
            worst = max(worst, float(np.abs(outputs[name][0] - mine[i]).max()))
    return worst


def sample_inputs() -> list[np.ndarray]:
    """The sample frames shipped with the repository (public domain), letterboxed as the detector does."""
    from siamface.edge.images import read_image

    frames = sorted((Path(__file__).resolve().parent.parent / "samples" / "frames").glob("*.jpg"))
    images = [read_image(path) for path in frames]
    return [letterbox(image, (0, 0, max(image.shape[:2]))) for image in images]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m siamface.export.blazeface", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_BLAZEFACE)
    args = parser.parse_args(argv)
    import tf2onnx

    with tempfile.TemporaryDirectory() as folder:
        tflite = fetch_tflite(Path(folder))
        model, _ = tf2onnx.convert.from_tflite(str(tflite), opset=OPSET)
        free_batch(model)
        model.producer_name = f"tf2onnx from {WHEEL}:{MEMBER}"
        data = model.SerializeToString()
        worst = check(data, tflite, sample_inputs())
    # Outputs are box offsets in 128ths of the input and score logits: 0.02 moves a box by a 50th of
    # a pixel at 128 pixels and a score by half a percent; tf2onnx and TFLite sum in other orders.
    if worst > 0.02:
        print(f"refused: the ONNX model differs from TFLite by up to {worst:.2e}", file=sys.stderr)
        return 1
    write_atomically(args.out, lambda f: f.write(data))
    print(f"{args.out}: {len(data)} bytes, largest difference from TFLite {worst:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
