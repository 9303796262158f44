"""Shared fixtures: the real face data and a small contract-following model built from it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("SIAMFACE_DATA", REPO.parent / "shared" / "data"))


def data_dir(*parts: str) -> Path:
    """A folder of ../shared/data (or $SIAMFACE_DATA); skips the test, saying why, when it is absent."""
    path = DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"test data {path} not found: set SIAMFACE_DATA to the face data folder")
    return path


def identity_photos(root: Path, name: str) -> list[Path]:
    return sorted((root / name).glob("*.jpg"))


def one_face_photos(root: Path, name: str, count: int = 1) -> list[Path]:
    """The first ``count`` photos of a person in which the default detector finds exactly one face."""
    from siamface.edge.images import read_image
    from siamface.edge.loop.detect import HaarDetector

    detector = HaarDetector()
    found = [p for p in identity_photos(root, name) if len(detector.detect(read_image(p))) == 1][:count]
    if len(found) < count:
        pytest.skip(f"{root / name} has fewer than {count} photos with one detectable face")
    return found


@pytest.fixture(scope="session")
def fixture_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small PCA+LDA embedding model fitted in the test session (no TensorFlow), on train/ identities only."""
    pytest.importorskip("onnx", reason="building the fixture model needs onnx (pip install -e '.[dev]')")
    from .standin import build_standin

    roots = [data_dir("train", "att"), data_dir("train", "faces94"), data_dir("train", "celeba")]
    out = tmp_path_factory.mktemp("model") / "fixture.onnx"
    return build_standin(roots, out, per_identity=6, pca_dims=200, dims=64)


@pytest.fixture(scope="session")
def dev_people() -> tuple[Path, list[str]]:
    """dev/celeba and its identities with at least 6 photos: none of them was seen by any model."""
    root = data_dir("dev", "celeba")
    names = sorted(d.name for d in root.iterdir() if d.is_dir() and len(list(d.glob("*.jpg"))) >= 6)
    return root, names
