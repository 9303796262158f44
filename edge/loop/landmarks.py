"""Five face landmarks (eye corners and the base of the nose) inside a detected box, in numpy.

The model is dlib's public-domain 5-point predictor (an ensemble of regression trees,
Kazemi & Sullivan 2014), converted once by ``python -m siamface.export.landmarks``. Each of its cascades
reads a few hundred pixel intensities placed relative to the current landmark estimate and adds
the leaves its trees fall into. All trees of a cascade are walked at once, so a face costs about
two milliseconds of numpy on one x86 core and no extra dependency: each cascade is a dozen array
operations, because at this size numpy's cost is the number of calls, not the arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from ..errors import SiamfaceError

DEFAULT_LANDMARKS = Path(__file__).parent.parent / "models" / "landmarks-5.npz"
FIELDS = ("initial_shape", "split_idx1", "split_idx2", "split_thresh", "leaves", "anchors", "deltas")


@dataclass(frozen=True)
class LandmarkModel:
    """dlib's arrays, each cascade's trees laid end to end so one gather walks them all."""

    initial_shape: np.ndarray  # (P, 2) mean landmarks in a unit face box
    split_idx1: np.ndarray  # (C, T * S) feature pixel pairs compared at each split
    split_idx2: np.ndarray
    split_thresh: np.ndarray  # (C, T * S)
    leaves: np.ndarray  # (C, T * (S + 1), P * 2) shape increments in the unit box
    placement: np.ndarray  # (C, 2 + P, F) see _placement; float64 so pixels round exactly as dlib's do
    splits: int  # S per tree; trees are complete, S + 1 leaves
    trees: int  # T per cascade
    similarity_rows: np.ndarray  # (2, 2P), see _similarity_rows
    leaf_of_code: np.ndarray  # (2**S,), see _leaf_table
    leaf_base: np.ndarray  # (T,) first leaf row of each tree in a cascade's leaves
    bit_values: np.ndarray  # (S,) 2**i as float32, packs a tree's split outcomes into its code


def load_landmark_model(path: str | Path = DEFAULT_LANDMARKS) -> LandmarkModel:
    try:
        with np.load(path, allow_pickle=False) as data:
            a = {name: data[name] for name in FIELDS}
    except FileNotFoundError:
        raise SiamfaceError(
            f"{path}: landmark model not found (make it with python -m siamface.export.landmarks)"
        ) from None
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
        placement=_placement(a["anchors"], a["deltas"], len(a["initial_shape"])),
        splits=splits,
        trees=trees,
        similarity_rows=_similarity_rows(a["initial_shape"].astype(np.float32)),
        leaf_of_code=_leaf_table(splits),
        leaf_base=np.arange(trees) * (splits + 1),
        bit_values=(1 << np.arange(splits)).astype(np.float32),
    )


@cache
def default_landmark_model() -> LandmarkModel:
    return load_landmark_model(DEFAULT_LANDMARKS)


def _placement(anchors: np.ndarray, deltas: np.ndarray, points: int) -> np.ndarray:
    """(C, 2 + P, F): a feature pixel is its offset turned by the current similarity plus the landmark
    it hangs from, so [turn; landmarks].T @ [offset; one-hot landmark] places all of a cascade's
    pixels in one product."""
    cascades, features = anchors.shape
    one_hot = np.zeros((cascades, points, features))
    one_hot[np.arange(cascades)[:, None], anchors, np.arange(features)] = 1.0
    return np.concatenate([deltas.astype(np.float64).transpose(0, 2, 1), one_hot], axis=1)


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
    pixels, row_length, (left, top) = _pixels_around(image, x, y, w, h)
    size = np.array([w, h])
    # dlib rounds half up: the half rides on the landmark rows, whose one-hot weights sum to 1.
    start = np.array([x - left + 0.5, y - top + 0.5])
    affine = np.empty((2 + len(model.initial_shape), 2))
    grey = np.full((pixels.shape[1], 1), 1 / pixels.shape[1], np.float32)
    shape = model.initial_shape.ravel().copy()
    tree_weights = np.ones(model.trees, np.float32)  # sums the leaves the trees fall into
    for c in range(len(model.leaves)):
        a, b = (model.similarity_rows @ shape).tolist()
        affine[0] = a * w, b * h
        affine[1] = -b * w, a * h
        affine[2:] = shape.reshape(-1, 2) * size + start
        where = (affine.T @ model.placement[c]).astype(np.intp)
        sampled = pixels.take(where[0] + where[1] * row_length, axis=0, mode="clip")
        # The plain mean of the channels, truncated, as dlib converts colour to grey.
        values = np.floor(sampled @ grey + 1e-3).ravel()
        goes_left = values.take(model.split_idx1[c]) - values.take(model.split_idx2[c]) > model.split_thresh[c]
        code = (goes_left.reshape(model.trees, model.splits) @ model.bit_values).astype(np.intp)
        rows = model.leaf_base + model.leaf_of_code.take(code)
        shape += tree_weights @ model.leaves[c].take(rows, axis=0)
    return np.floor(np.array([x, y]) + shape.reshape(-1, 2) * size + 0.5)


def _pixels_around(image: np.ndarray, x: float, y: float, w: float, h: float) -> tuple[np.ndarray, int, tuple]:
    """(pixels as rows of channels, row length, image position of pixel 0) to sample a face from.

    The features of dlib's model lie inside the box in its mean shape, so the box grown by half its
    size holds them. When that lies inside the frame the frame itself is read, with no copy;
    otherwise a copy of it with zeros beyond the frame, since dlib reads pixels outside as black.
    """
    height, width = image.shape[:2]
    x0, y0 = int(np.floor(x - w / 2)) - 1, int(np.floor(y - h / 2)) - 1
    x1, y1 = int(np.ceil(x + 1.5 * w)) + 2, int(np.ceil(y + 1.5 * h)) + 2
    channels = image.reshape(height, width, -1)
    if x0 >= 0 and y0 >= 0 and x1 <= width and y1 <= height:
        return channels.reshape(height * width, -1), width, (0, 0)
    inside = channels[max(y0, 0) : max(min(y1, height), 0), max(x0, 0) : max(min(x1, width), 0)]
    region = np.zeros((y1 - y0, x1 - x0, channels.shape[2]), image.dtype)
    top, left = max(y0, 0) - y0, max(x0, 0) - x0
    region[top : top + inside.shape[0], left : left + inside.shape[1]] = inside
    return region.reshape(-1, channels.shape[2]), x1 - x0, (x0, y0)
