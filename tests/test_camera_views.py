"""Camera-like views and blends of the public-domain portraits the bundled model is fitted on."""

from pathlib import Path

import numpy as np
import pytest

from siamface.edge.images import read_image
from siamface.edge.loop.detect import HaarDetector, face_or_whole
from siamface.edge.loop.embed import Embedder
from siamface.edge.loop.preprocess import crop_face, to_tensor
from siamface.train.crops import calibration_faces
from siamface.train.dlib_resnet import morphs

from .conftest import data_dir

VIEWS = 6


@pytest.fixture(scope="module")
def portraits() -> tuple[Path, np.ndarray, Embedder]:
    folder = data_dir("public_domain", "congress")
    embedder = Embedder()
    chips, photos, fallbacks = calibration_faces(folder, embedder.contract, 8, progress=False, views=VIEWS)
    assert fallbacks == 0 and len(photos) == 8
    return folder, chips, embedder


def test_each_photo_gives_its_own_chip_then_camera_views_of_the_same_person(portraits):
    folder, chips, embedder = portraits
    assert chips.shape == (8 * VIEWS, 150, 150, 3)
    first = sorted(folder.glob("*.jpg"))[0]
    image = read_image(first)
    box, _ = face_or_whole(HaarDetector(), image, embedder.contract.box_margin)
    np.testing.assert_array_equal(chips[0], crop_face(image, box, embedder.contract))
    emb = embedder.embed_batch(to_tensor(chips, embedder.contract)).reshape(8, VIEWS, -1)
    originals, views = emb[:, 0], emb[:, 1:]
    same = np.einsum("pd,pvd->pv", originals, views)
    others = originals @ originals.T
    # The views are changed (smaller, softer, other light), yet aligned on the same face: each is
    # nearer its own photo than any other person's photo is.
    pixels = np.abs(chips.reshape(8, VIEWS, -1)[:, 1:].astype(int) - chips.reshape(8, VIEWS, -1)[:, :1]).mean(2)
    assert pixels.min() > 2, "a view came out as the photo itself"
    assert same.min() > others[~np.eye(8, dtype=bool)].max()
    assert np.median(same) > embedder.contract.scores["threshold"]


def test_a_blend_of_two_people_is_nearer_each_of_them_than_they_are_to_each_other(portraits):
    _, chips, embedder = portraits
    blends, sources = morphs(chips, 40, VIEWS, np.random.default_rng(1))
    emb = embedder.embed_batch(to_tensor(np.concatenate([chips, blends]), embedder.contract))
    faces, mixed = emb[: len(chips)], emb[len(chips) :]
    people = sources // VIEWS
    assert np.all(people[:, 0] != people[:, 1])
    # each blend's best score to each person over that person's photo and views, and the people's to each other
    scores = (mixed @ faces.T).reshape(len(mixed), -1, VIEWS).max(2)
    between = (faces @ faces.T).reshape(len(faces), -1, VIEWS).max(2).reshape(-1, VIEWS, scores.shape[1]).max(1)
    for row, (a, b) in zip(scores, people):
        assert min(row[a], row[b]) > between[a, b]
