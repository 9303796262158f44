"""export-model: a trained .keras embedding model -> a checked, int8-quantized ONNX file for the device.

Steps: tf2onnx conversion with the model contract in the metadata; fp32 ONNX checked against Keras
on real faces; static QDQ quantization (per-channel int8 weights, uint8 activations) calibrated on
real faces; a gate on fp32<->int8 agreement and, with pairs, on verification accuracy; latency of
each variant at 1 thread; atomic writes and a JSON report. Nothing is written when a check fails.
"""

from __future__ import annotations

import hashlib
import json
import logging
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from siamface.edge.atomic import write_atomically, write_text_atomically
from siamface.edge.contract import ModelContract
from siamface.edge.errors import SiamfaceError
from siamface.edge.loop.preprocess import to_tensor
from siamface.train.crops import calibration_faces

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    """What the int8 model must meet before it is written (see the README for why these)."""

    fp32_max_abs: float = 1e-3  # fp32 ONNX vs Keras, per embedding value
    fp32_min_cosine: float = 0.9999
    int8_mean_cosine: float = 0.98  # int8 vs fp32 embeddings of held-out faces
    int8_p1_cosine: float = 0.95  # their 1st percentile
    max_accuracy_drop: float = 0.01  # int8 vs Keras dev-pairs accuracy, with --pairs


def convert(model, contract: ModelContract, opset: int, extra_metadata: dict[str, str], flip_average: bool = False):
    """The embedding network as an ONNX ModelProto with the contract in its metadata.

    ``flip_average``: the graph embeds each face and its mirror image as one batch and sums the two,
    so the device gets the averaged embedding from the same single call, with no code of its own.
    """
    import onnx
    import tensorflow as tf
    import tf2onnx

    if not 13 <= opset <= 18:
        raise SiamfaceError(f"--opset {opset}: tf2onnx accepts opsets 13 to 18")
    spec = (tf.TensorSpec((None, contract.height, contract.width, contract.channel_count), tf.float32, name="image"),)

    @tf.function(input_signature=spec)
    def embed(image):
        if not flip_average:
            return {"embedding": model(image, training=False)}
        both = model(tf.concat([image, tf.reverse(image, axis=[2])], axis=0), training=False)
        # A reshape, not slices at a computed count: quant_pre_process's shape inference follows it.
        return {"embedding": tf.reduce_sum(tf.reshape(both, (2, -1, contract.embedding_size)), axis=0)}

    proto, _ = tf2onnx.convert.from_function(embed, input_signature=spec, opset=opset)
    metadata = {**contract.to_metadata(), **extra_metadata}
    if flip_average:  # said beside the graph that does it
        metadata["siamface.flip_average"] = "true"
        metadata["siamface.description"] = contract.description + "; each face embedded with its mirror image, summed"
    onnx.helper.set_model_props(proto, metadata)
    return proto


def keras_embed(model, batch: np.ndarray, flip_average: bool = False) -> np.ndarray:
    """L2-normalised Keras embeddings, as the exported graph computes them (NHWC: axis 2 is width)."""

    def run(images: np.ndarray) -> np.ndarray:
        return np.concatenate(
            [np.asarray(model(images[i : i + 256], training=False)) for i in range(0, len(images), 256)]
        )

    out = run(batch) + run(batch[:, :, ::-1]) if flip_average else run(batch)
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def _session(data: bytes, threads: int = 1):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def run_onnx(session, batch: np.ndarray) -> np.ndarray:
    name = session.get_inputs()[0].name
    out = np.concatenate([session.run(None, {name: batch[i : i + 64]})[0] for i in range(0, len(batch), 64)])
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def stem_nodes(model) -> list[str]:
    """The first convolution and what lies between it and the input (a layout Transpose) and its
    activation: the layers that see raw pixels, three channels wide, where int8 loses the most
    accuracy and saves the least time."""
    names = []
    for node in model.graph.node:
        names.append(node.name)
        if node.op_type == "Conv":
            consumers = [n for n in model.graph.node if node.output[0] in n.input]
            names += [n.name for n in consumers if n.op_type in ("Clip", "Relu")]
            return names
    return []


def quantize(fp32: bytes, calibration: np.ndarray, work: Path) -> bytes:
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    source, prepared, output = work / "fp32.onnx", work / "prepared.onnx", work / "int8.onnx"
    source.write_bytes(fp32)
    quant_pre_process(str(source), str(prepared))
    input_name = _session(fp32).get_inputs()[0].name
    size = 16
    if len(calibration) < size:
        raise SiamfaceError(f"{len(calibration)} calibration faces; at least {size} are needed")

    class Faces(CalibrationDataReader):
        # Equal batches: the histogram calibrators concatenate per-batch outputs and fail on a short last one.
        def __init__(self) -> None:
            whole = len(calibration) - len(calibration) % size
            self._batches = iter([calibration[i : i + size] for i in range(0, whole, size)])

        def get_next(self):
            batch = next(self._batches, None)
            return None if batch is None else {input_name: batch}

    # Static QDQ, because dynamic quantization made Conv layers slower than fp32; percentile ranges
    # and an fp32 stem, because min-max ranges lost most of the cosine to fp32 (figures:
    # docs/training-and-export.md, "Export").
    quantize_static(
        str(prepared),
        str(output),
        Faces(),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.Percentile,
        extra_options={"CalibPercentile": 99.99},
        nodes_to_exclude=stem_nodes(onnx.load(str(prepared))),
    )
    return output.read_bytes()


def latency_ms(run, face: np.ndarray, repeats: int = 50) -> float:
    run(face)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(face)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def export(
    keras_path: Path,
    out: Path,
    calibration_dir: Path,
    calibration_count: int = 300,
    held_out: int = 100,
    pairs: Path | None = None,
    images: Path | None = None,
    keep_fp32: bool = False,
    opset: int = 17,
    limits: Limits = Limits(),
    progress: bool = True,
    check_faces: Path | None = None,
    flip_average: bool = False,
    calibration_views: int = 1,
) -> dict:
    """Write ``out`` (int8 ONNX) and its JSON report, or raise SiamfaceError and write nothing.

    ``calibration_views`` > 1 calibrates on camera-like views of each calibration photo as well as
    the photo (train/camera_views.py): studio portraits alone span a narrow range of light.

    The int8 check runs on held-out real faces from ``check_faces`` (default: ``images`` when given,
    else the calibration folder), so a broken calibration set cannot also be the set that judges it.
    """
    import onnx
    import onnxruntime
    import tensorflow as tf
    import tf2onnx

    from siamface.train.modelfile import load_embedding_model

    model, contract = load_embedding_model(keras_path)
    source_sha = hashlib.sha256(keras_path.read_bytes()).hexdigest()
    shape = tuple(model.input_shape[1:])
    expected = (contract.height, contract.width, contract.channel_count)
    if shape != expected or model.output_shape[-1] != contract.embedding_size:
        raise SiamfaceError(
            f"{keras_path}: input {shape} / output {model.output_shape} do not match its contract "
            f"({expected} -> {contract.embedding_size}); not an embedding model"
        )
    crops, photos, fallbacks = calibration_faces(
        calibration_dir, contract, calibration_count, progress, calibration_views
    )
    calibrate = to_tensor(crops, contract)
    check_dir = check_faces or images or calibration_dir
    check = to_tensor(calibration_faces(check_dir, contract, held_out, progress)[0], contract)
    report: dict = {
        "source": str(keras_path),
        "source_sha256": source_sha,
        "contract": contract.to_metadata(),
        "calibration": {
            "folder": str(calibration_dir),
            "faces": len(crops),
            "views": calibration_views,
            "fallbacks": fallbacks,
            "photos_sha256": hashlib.sha256("\n".join(photos).encode()).hexdigest(),
        },
        "limits": limits.__dict__,
        "flip_average": flip_average,
        "versions": {
            "tensorflow": tf.__version__,
            "tf2onnx": tf2onnx.__version__,
            "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__,
        },
    }

    keras_emb = keras_embed(model, check, flip_average)
    fp32 = convert(model, contract, opset, {"siamface.source_sha256": source_sha}, flip_average).SerializeToString()
    fp32_session = _session(fp32)
    fp32_emb = run_onnx(fp32_session, check)
    report["fp32"] = {
        "bytes": len(fp32),
        "max_abs_vs_keras": float(np.abs(fp32_emb - keras_emb).max()),
        "min_cosine_vs_keras": float(cosines(fp32_emb, keras_emb).min()),
    }
    if (
        report["fp32"]["max_abs_vs_keras"] > limits.fp32_max_abs
        or report["fp32"]["min_cosine_vs_keras"] < limits.fp32_min_cosine
    ):
        raise SiamfaceError(
            f"{keras_path}: fp32 ONNX differs from Keras (max abs {report['fp32']['max_abs_vs_keras']:.2e}, "
            f"min cosine {report['fp32']['min_cosine_vs_keras']:.6f}); nothing written"
        )

    with tempfile.TemporaryDirectory() as tmp:
        int8 = quantize(fp32, calibrate, Path(tmp))
    int8_session = _session(int8)
    agreement = cosines(run_onnx(int8_session, check), fp32_emb)
    report["int8"] = {
        "bytes": len(int8),
        "mean_cosine_vs_fp32": float(agreement.mean()),
        "p1_cosine_vs_fp32": float(np.quantile(agreement, 0.01)),
    }

    if pairs is not None:
        report["accuracy"] = _accuracies(
            pairs, images, contract, model, fp32_session, int8_session, progress, flip_average
        )

    face = check[:1]
    report["latency_ms_1_thread"] = {
        "keras": latency_ms(lambda x: keras_embed(model, x, flip_average), face, 20),
        "fp32": latency_ms(lambda x: fp32_session.run(None, {fp32_session.get_inputs()[0].name: x}), face),
        "int8": latency_ms(lambda x: int8_session.run(None, {int8_session.get_inputs()[0].name: x}), face),
    }
    lat = report["latency_ms_1_thread"]
    report["int8_faster_than_fp32"] = lat["int8"] < lat["fp32"]
    if not report["int8_faster_than_fp32"]:
        log.warning("int8 (%.2f ms) is not faster than fp32 (%.2f ms) on this machine", lat["int8"], lat["fp32"])

    reasons = []
    if fallbacks > len(photos) / 2:
        reasons.append(f"{fallbacks} of {len(photos)} calibration photos have no detectable face (not face photos?)")
    if report["int8"]["mean_cosine_vs_fp32"] < limits.int8_mean_cosine:
        reasons.append(
            f"mean cosine int8 vs fp32 {report['int8']['mean_cosine_vs_fp32']:.4f} < {limits.int8_mean_cosine}"
        )
    if report["int8"]["p1_cosine_vs_fp32"] < limits.int8_p1_cosine:
        reasons.append(f"1st-percentile cosine {report['int8']['p1_cosine_vs_fp32']:.4f} < {limits.int8_p1_cosine}")
    if "accuracy" in report:
        drop = report["accuracy"]["keras"] - report["accuracy"]["int8"]
        if drop > limits.max_accuracy_drop:
            reasons.append(
                f"int8 accuracy {drop * 100:.2f} points below Keras (limit {limits.max_accuracy_drop * 100:.1f})"
            )
    report["passed"] = not reasons
    if reasons:
        # Nothing is written, so the measurements that led here go to the log.
        log.info(
            "measurements: %s",
            json.dumps({k: report[k] for k in ("fp32", "int8", "accuracy", "latency_ms_1_thread") if k in report}),
        )
        raise SiamfaceError(f"{keras_path}: int8 model refused ({'; '.join(reasons)}); nothing written")

    write_atomically(out, lambda handle: handle.write(int8))
    if keep_fp32:
        write_atomically(out.with_name(out.stem + ".fp32.onnx"), lambda handle: handle.write(fp32))
    report["output"] = str(out)
    report["output_sha256"] = hashlib.sha256(int8).hexdigest()
    write_text_atomically(out.with_suffix(".json"), json.dumps(report, indent=2))
    return report


def _accuracies(
    pairs_file: Path, images: Path, contract, model, fp32_session, int8_session, progress: bool, flip_average: bool
) -> dict:
    """Dev-pairs accuracy of Keras, fp32 and int8, with the protocol code of face-edge evaluate."""
    from siamface.train.cache import cache_root
    from siamface.train.validate import load_pairs

    pair_set = load_pairs(pairs_file, images, contract, cache_root() / "pairs", progress)
    batch = to_tensor(pair_set.crops, contract)
    keras_emb = keras_embed(model, batch, flip_average)
    result = {}
    for name, emb in (
        ("keras", keras_emb),
        ("fp32", run_onnx(fp32_session, batch)),
        ("int8", run_onnx(int8_session, batch)),
    ):
        result[name] = pair_set.report(pair_set.scores(emb))["accuracy"]
    result["pairs"] = len(pair_set.pairs)
    return result
