"""Five face landmarks (eye corners and the base of the nose) inside a detected box, in numpy.

The model is dlib's public-domain 5-point predictor (an ensemble of regression trees,
Kazemi & Sullivan 2014), converted once by ``python -m export.landmarks``. Each of its cascades
reads a few hundred pixel intensities placed relative to the current landmark estimate and adds
the leaves its trees fall into. All trees of a cascade are walked at once, so a face costs a few
milliseconds of numpy and no extra dependency.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from .errors import SiamfaceError

DEFAULT_LANDMARKS = Path(__file__).parent / "models" / "landmarks-5.npz"
FIELDS = ("initial_shape", "split_idx1", "split_idx2", "split_thresh", "leaves", "anchors", "deltas")


@dataclass(frozen=True)
class LandmarkModel:
    """dlib's arrays, each cascade's trees laid end to end so one gather walks them all."""

    initial_shape: np.ndarray  # (P, 2) mean landmarks in a unit face box
    split_idx1: np.ndarray  # (C, T * S) feature pixel pairs compared at each split
    split_idx2: np.ndarray
    split_thresh: np.ndarray  # (C, T * S)
    leaves: np.ndarray  # (C, T * (S + 1), P * 2) shape increments in the unit box
    anchors: np.ndarray  # (C, F) landmark each feature pixel hangs from
    deltas: np.ndarray  # (C, F, 2) its offset from that landmark in the mean shape, float64 so
    #                     pixel positions round exactly as dlib's do
    splits: int  # S per tree; trees are complete, S + 1 leaves
    trees: int  # T per cascade
    similarity_rows: np.ndarray  # (2, 2P), see _similarity_rows
    leaf_of_code: np.ndarray  # (2**S,), see _leaf_table
    bit_values: np.ndarray  # (S,) 2**i, packs a tree's split outcomes into its code


def load_landmark_model(path: str | Path = DEFAULT_LANDMARKS) -> LandmarkModel:
    try:
        with np.load(path, allow_pickle=False) as data:
            a = {name: data[name] for name in FIELDS}
    except FileNotFoundError:
        raise SiamfaceError(f"{path}: landmark model not found (make it with python -m export.landmarks)") from None
    except (KeyError, ValueError, OSError) as error:
        expected = ", ".join(FIELDS)
        raise SiamfaceError(f"{path}: not a landmark model ({error}); expected the arrays {expected}") from None
    cascades, trees, splits = a["split_idx1"].shape
    return LandmarkModel(
        initial_shape=a["initial_shape"].astype(np.float32),
        split_idx1=a["split_idx1"].reshape(cascades, -1).astype(np.intp),
        split_idx2=a["split_idx2"].reshape(cascades, -1).astype(np.intp),
        split_thresh=a["split_thresh"].reshape(cascades, -1).astype(np.float32),
        leaves=a["leaves"].reshape(cascades, trees * (splits + 1), -1).astype(np.float32),
        anchors=a["anchors"].astype(np.intp),
        deltas=a["deltas"].astype(np.float64),
        splits=splits,
        trees=trees,
        similarity_rows=_similarity_rows(a["initial_shape"].astype(np.float32)),
        leaf_of_code=_leaf_table(splits),
        bit_values=(1 << np.arange(splits)).astype(np.int32),
    )


@cache
def default_landmark_model() -> LandmarkModel:
    return load_landmark_model(DEFAULT_LANDMARKS)


def _similarity_rows(source: np.ndarray) -> np.ndarray:
    """(2, 2P) rows giving (a, b) of the least-squares similarity [[a, -b], [b, a]] from the source
    points onto a flattened target (the 2-D closed form of Umeyama 1991): both are linear in the
    target because the centred source sums to zero."""
    src = source - source.mean(axis=0)
    variance = float((src**2).sum())
    rows = np.stack([src.ravel(), np.stack([-src[:, 1], src[:, 0]], axis=1).ravel()]) / variance
    return rows.astype(np.float32)


def _leaf_table(splits: int) -> np.ndarray:
    """Leaf reached for every pattern of split outcomes (bit i set: split i sends the walk left),
    so walking a complete tree is one lookup."""
    codes = np.arange(2**splits)
    node = np.zeros_like(codes)
    for _ in range(int(np.log2(splits + 1))):
        node = 2 * node + 2 - ((codes >> node) & 1)
    return (node - splits).astype(np.intp)


def find_landmarks(image: np.ndarray, box, model: LandmarkModel | None = None) -> np.ndarray:
    """(P, 2) landmark positions in image pixels for the face in ``box`` = (x, y, w, h).

    ``image`` is the BGR or grey frame; positions are whole pixels, as dlib returns them.
    """
    model = model or default_landmark_model()
    x, y, w, h = (float(v) for v in box)
    origin, size = np.array([x, y]), np.array([w, h])
    height, width = image.shape[:2]
    pixels = image.reshape(height * width, -1)
    leaf_base = np.arange(model.trees) * (model.splits + 1)
    shape = model.initial_shape
    limit = np.array([width - 1, height - 1])
    stride = np.array([1, width])
    for c in range(len(model.leaves)):
        a, b = model.similarity_rows @ shape.ravel()
        # Feature pixel = box origin + box size * (turned offset + its landmark), all in one affine.
        turn = np.array([[a * size[0], b * size[1]], [-b * size[0], a * size[1]]])
        anchors = origin + size * shape
        # Round half up as dlib does; the offset keeps truncation a floor for pixels just left of 0.
        where = (model.deltas[c] @ turn + anchors[model.anchors[c]] + 1024.5).astype(np.intp) - 1024
        inside = np.minimum(np.maximum(where, 0), limit)
        sampled = np.take(pixels, inside @ stride, axis=0)
        if sampled.shape[1] == 3:  # colour: the plain mean of the channels, truncated, as dlib converts
            values = (sampled[:, 0].astype(np.int32) + sampled[:, 1] + sampled[:, 2]) // 3
        else:
            values = sampled[:, 0].astype(np.int32)
        values[(inside != where).any(axis=1)] = 0  # outside the image reads as black
        values = values.astype(np.float32)
        left = np.take(values, model.split_idx1[c]) - np.take(values, model.split_idx2[c]) > model.split_thresh[c]
        leaf = model.leaf_of_code[left.reshape(model.trees, model.splits) @ model.bit_values]
        shape = shape + np.take(model.leaves[c], leaf_base + leaf, axis=0).sum(axis=0).reshape(-1, 2)
    return np.floor(origin + shape * size + 0.5).astype(np.float64)
