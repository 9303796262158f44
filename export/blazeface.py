"""MediaPipe's BlazeFace face detectors (Apache-2.0) to the ONNX files the device ships.

    python -m siamface.export.blazeface [--range short|full] [--out FILE.onnx]

The short-range model is the one the device ships (edge/models/blazeface-short-range.onnx); the
full-range one goes to the user's cache folder by default, for bench.events and bench.clip_speed,
which measure it beside the shipped detector (docs/detection.md).

The TFLite model is taken from the mediapipe wheel on PyPI (fetched with `pip download --no-deps`,
never installed: its pins clash with the training stack), checked against its known SHA-256,
converted with tf2onnx, given a free batch dimension (so the tiles of a frame run in one call), and
checked against TensorFlow Lite's own interpreter on real faces before it is written. The
full-range model stores its weights sparse, which tf2onnx cannot read: they are densified first,
with the values TensorFlow Lite's own DENSIFY ops compute.
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
from siamface.train.cache import cache_root

WHEEL = "mediapipe==0.10.21"
FOLDER = "mediapipe/modules/face_detection/"
# range -> (file in the wheel, its SHA-256)
TFLITE = {
    "short": ("face_detection_short_range.tflite", "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8"),
    "full": (
        "face_detection_full_range_sparse.tflite",
        "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
    ),
}
OPSET = 17


def full_range_path() -> Path:
    """Where the full-range model is written and where the benchmarks look for it."""
    return cache_root() / "blazeface-full-range.onnx"


def fetch_tflite(folder: Path, model_range: str = "short") -> Path:
    name, sha256 = TFLITE[model_range]
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", WHEEL, "-d", str(folder)], check=True
    )
    wheel = next(folder.glob("mediapipe-*.whl"))
    data = zipfile.ZipFile(wheel).read(FOLDER + name)
    if hashlib.sha256(data).hexdigest() != sha256:
        raise SiamfaceError(f"{wheel}: {FOLDER + name} is not the file this script was checked with (SHA-256 differs)")
    path = folder / name
    path.write_bytes(data)
    return path


def densify(sparse: Path, out: Path) -> Path:
    """The model with each DENSIFY op replaced by the dense weights it computes; the sparse tensors,
    no longer read, are kept as flat vectors of their stored values so the file stays valid."""
    import tensorflow as tf
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(str(sparse))
    graph = model.subgraphs[0]
    interpreter = tf.lite.Interpreter(
        model_path=str(sparse),
        experimental_preserve_all_tensors=True,
        experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    interpreter.allocate_tensors()
    interpreter.invoke()  # the DENSIFY outputs do not depend on the (zero) input
    kept = []
    for op in graph.operators:
        code = model.operatorCodes[op.opcodeIndex]
        if max(code.builtinCode, code.deprecatedBuiltinCode) != schema.BuiltinOperator.DENSIFY:
            kept.append(op)
            continue
        dense = interpreter.get_tensor(op.outputs[0])
        buffer = schema.BufferT()
        buffer.data = np.frombuffer(dense.tobytes(), np.uint8)
        model.buffers.append(buffer)
        graph.tensors[op.outputs[0]].buffer = len(model.buffers) - 1
        stored = graph.tensors[op.inputs[0]]
        width = 2 if stored.type == schema.TensorType.FLOAT16 else 4
        stored.sparsity, stored.shapeSignature = None, None
        stored.shape = np.array([len(model.buffers[stored.buffer].data) // width], np.int32)
    graph.operators = kept
    flatbuffer_utils.write_model(model, str(out))
    return out


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
    """Largest difference of ONNX from TFLite's interpreter (on the original file), over the given
    inputs run as one batch; outputs are paired by order, as both keep TFLite's."""
    import onnxruntime as ort
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_path=str(tflite))
    interpreter.allocate_tensors()
    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    batch = np.stack(faces).astype(np.float32)
    ours = session.run(None, {session.get_inputs()[0].name: batch})
    worst = 0.0
    for i, image in enumerate(batch):
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], image[None])
        interpreter.invoke()
        for detail, mine in zip(interpreter.get_output_details(), ours):
            worst = max(worst, float(np.abs(interpreter.get_tensor(detail["index"])[0] - mine[i]).max()))
    return worst


def sample_inputs(size: int) -> list[np.ndarray]:
    """The sample frames shipped with the repository (public domain), letterboxed as the detector does."""
    from siamface.edge.images import read_image

    frames = sorted((Path(__file__).resolve().parent.parent / "samples" / "frames").glob("*.jpg"))
    images = [read_image(path) for path in frames]
    return [letterbox(image, (0, 0, max(image.shape[:2])), size) for image in images]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m siamface.export.blazeface", description=__doc__.splitlines()[0])
    parser.add_argument("--range", dest="model_range", choices=sorted(TFLITE), default="short")
    parser.add_argument("--out", type=Path, help="default: the file the device loads for that range")
    args = parser.parse_args(argv)
    out = args.out or (DEFAULT_BLAZEFACE if args.model_range == "short" else full_range_path())
    out.parent.mkdir(parents=True, exist_ok=True)
    import tf2onnx

    with tempfile.TemporaryDirectory() as folder:
        tflite = fetch_tflite(Path(folder), args.model_range)
        readable = densify(tflite, Path(folder) / "dense.tflite") if args.model_range == "full" else tflite
        model, _ = tf2onnx.convert.from_tflite(str(readable), opset=OPSET)
        free_batch(model)
        model.producer_name = f"tf2onnx from {WHEEL}:{FOLDER}{tflite.name}"
        data = model.SerializeToString()
        size = model.graph.input[0].type.tensor_type.shape.dim[1].dim_value
        worst = check(data, tflite, sample_inputs(size))
    # Outputs are box offsets in pixels of the input and score logits: 0.02 moves a box by a 50th of
    # a pixel and a score by half a percent; tf2onnx and TFLite sum in other orders.
    if worst > 0.02:
        print(f"refused: the ONNX model differs from TFLite by up to {worst:.2e}", file=sys.stderr)
        return 1
    write_atomically(out, lambda f: f.write(data))
    print(f"{out}: {len(data)} bytes, largest difference from TFLite {worst:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
