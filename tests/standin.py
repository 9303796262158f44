"""A stand-in embedding model until the trained network lands: PCA + LDA ("Fisherfaces") as ONNX.

It is a linear projection of per-image-normalised grey pixels, fitted on Haar crops from identity
folders, and follows the model contract like any network would. It is weak; it exists so the device
runtime can be built and tested end to end without TensorFlow.

    python -m tests.standin --out edge/models/standin-pca.onnx ../shared/data/train/*
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from tqdm import tqdm

from siamface.edge.contract import ModelContract
from siamface.edge.images import is_image_path, read_image
from siamface.edge.loop.detect import HaarDetector, face_or_whole
from siamface.edge.loop.preprocess import crop_face

CONTRACT = ModelContract(
    width=48,
    height=48,
    channels="gray",
    layout="nhwc",
    mean=(0.0,),
    std=(255.0,),
    crop_padding=0.0,
    embedding_size=128,
    description="stand-in: PCA+LDA projection of grey pixels (not a neural network)",
)


def identity_folders(roots: Sequence[Path]) -> list[Path]:
    return sorted(d for root in roots for d in Path(root).iterdir() if d.is_dir())


def collect_faces(
    folders: Sequence[Path], per_identity: int, contract: ModelContract = CONTRACT, fallback_whole: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Crops (N, H, W, C) uint8 and integer labels, through the device detector and preprocessing."""
    detector = HaarDetector()
    crops, labels = [], []
    for label, folder in enumerate(tqdm(folders, desc="faces", unit="person")):
        photos = sorted(p for p in folder.iterdir() if is_image_path(p))[:per_identity]
        for photo in photos:
            image = read_image(photo)
            box, fell_back = face_or_whole(detector, image, contract.box_margin)
            if fell_back and not fallback_whole:
                continue
            crops.append(crop_face(image, box, contract))
            labels.append(label)
    return np.asarray(crops), np.asarray(labels)


def normalise_rows(x: np.ndarray) -> np.ndarray:
    x = x - x.mean(axis=1, keepdims=True)
    return x / np.sqrt((x * x).mean(axis=1, keepdims=True) + 1e-6)


def fit_projection(
    crops: np.ndarray, labels: np.ndarray, pca_dims: int, out_dims: int
) -> tuple[np.ndarray, np.ndarray]:
    """(mean, W) such that the embedding is (normalised_pixels - mean) @ W."""
    x = normalise_rows(crops.reshape(len(crops), -1).astype(np.float64) / 255.0)
    mean = x.mean(axis=0)
    centred = x - mean
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    pca_dims = min(pca_dims, len(s) - 1)
    # Whitened PCA keeps LDA's within-class scatter well conditioned.
    pca = vt[:pca_dims].T / (s[:pca_dims] / np.sqrt(len(x)))
    z = centred @ pca
    classes = np.unique(labels)
    class_means = np.stack([z[labels == c].mean(axis=0) for c in classes])
    within = sum(np.cov(z[labels == c].T, bias=True) * (labels == c).sum() for c in classes if (labels == c).sum() > 1)
    within = within / len(z) + 1e-3 * np.eye(pca_dims)
    between = np.cov(class_means.T, bias=True)
    evals, evecs = np.linalg.eig(np.linalg.solve(within, between))
    order = np.argsort(-evals.real)[: min(out_dims, len(classes) - 1)]
    lda = evecs[:, order].real
    lda /= np.sqrt(np.einsum("ij,jk,ki->i", lda.T, within, lda))  # unit within-class variance per axis
    return mean.astype(np.float32), (pca @ lda).astype(np.float32)


def build_onnx(mean: np.ndarray, weights: np.ndarray, contract: ModelContract) -> onnx.ModelProto:
    pixels = contract.width * contract.height * contract.channel_count
    dims = weights.shape[1]
    # The image and its mirror are embedded alike and summed, so the embedding is flip-invariant.
    nodes = [helper.make_node("Slice", ["image", "flip_start", "flip_end", "flip_axis", "flip_step"], ["mirror"])]
    for branch in ("image", "mirror"):
        nodes += [
            helper.make_node("Flatten", [branch], [f"{branch}_flat"], axis=1),
            helper.make_node("ReduceMean", [f"{branch}_flat"], [f"{branch}_mean"], axes=[1], keepdims=1),
            helper.make_node("Sub", [f"{branch}_flat", f"{branch}_mean"], [f"{branch}_centred"]),
            helper.make_node("Mul", [f"{branch}_centred", f"{branch}_centred"], [f"{branch}_squared"]),
            helper.make_node("ReduceMean", [f"{branch}_squared"], [f"{branch}_var"], axes=[1], keepdims=1),
            helper.make_node("Add", [f"{branch}_var", "eps"], [f"{branch}_var_eps"]),
            helper.make_node("Sqrt", [f"{branch}_var_eps"], [f"{branch}_std"]),
            helper.make_node("Div", [f"{branch}_centred", f"{branch}_std"], [f"{branch}_norm"]),
            helper.make_node("Sub", [f"{branch}_norm", "mean"], [f"{branch}_shifted"]),
            helper.make_node("MatMul", [f"{branch}_shifted", "weights"], [f"{branch}_embedding"]),
        ]
    nodes.append(helper.make_node("Add", ["image_embedding", "mirror_embedding"], ["embedding"]))
    graph = helper.make_graph(
        nodes,
        "standin_pca_lda",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", contract.height, contract.width, 1])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", dims])],
        initializer=[
            numpy_helper.from_array(np.array([1e-6], np.float32), "eps"),
            numpy_helper.from_array(np.array([-1], np.int64), "flip_start"),
            numpy_helper.from_array(np.array([np.iinfo(np.int64).min], np.int64), "flip_end"),
            numpy_helper.from_array(np.array([2], np.int64), "flip_axis"),
            numpy_helper.from_array(np.array([-1], np.int64), "flip_step"),
            numpy_helper.from_array(mean.reshape(1, pixels), "mean"),
            numpy_helper.from_array(weights, "weights"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="siamface.standin")
    model.ir_version = 8
    contract = ModelContract(**{**contract.__dict__, "embedding_size": dims})
    helper.set_model_props(model, contract.to_metadata())
    onnx.checker.check_model(model)
    return model


def embed(model: onnx.ModelProto, crops: np.ndarray) -> np.ndarray:
    """The model's L2-normalised embeddings of these crops, as the device computes them."""
    import onnxruntime as ort

    from siamface.edge.loop.embed import l2_normalize
    from siamface.edge.loop.preprocess import to_tensor

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return l2_normalize(session.run(None, {"image": to_tensor(crops, CONTRACT)})[0])


def build_standin(
    roots: Sequence[Path], out: Path, per_identity: int = 20, pca_dims: int = 400, dims: int = 128
) -> Path:
    crops, labels = collect_faces(identity_folders(roots), per_identity)
    mean, weights = fit_projection(
        np.concatenate([crops, crops[:, :, ::-1]]), np.concatenate([labels, labels]), pca_dims, dims
    )
    model = build_onnx(mean, weights, CONTRACT)
    # Its scores, as siamface.export.threshold finds a real model's: the threshold lets 1 in 10,000
    # scores of two different people's photos through (those it was fitted on: a stand-in's
    # scale only), and it serves for frames, tracks and strangers alike.
    embeddings = embed(model, crops)
    sims = embeddings @ embeddings.T
    different = labels[:, None] != labels[None, :]
    threshold = float(np.quantile(sims[different], 1 - 1e-4))
    scores = {"threshold": threshold, "margin": 0.02, "track_threshold": threshold, "stranger_threshold": threshold}
    contract = ModelContract(**{**CONTRACT.__dict__, "embedding_size": dims, "scores": scores})
    helper.set_model_props(model, contract.to_metadata())
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(model.SerializeToString())
    tmp.replace(out)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("roots", nargs="+", type=Path, help="folders of identity folders")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--per-identity", type=int, default=20)
    parser.add_argument("--pca-dims", type=int, default=400)
    parser.add_argument("--dims", type=int, default=128)
    args = parser.parse_args(argv)
    path = build_standin(args.roots, args.out, args.per_identity, args.pca_dims, args.dims)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
