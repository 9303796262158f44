"""The distillation teacher: dlib's encoder on real faces, cached per root."""

import numpy as np
import pytest

from .conftest import data_dir

pytest.importorskip("dlib", reason="the teacher needs the [teacher] extra")
pytest.importorskip("face_recognition_models", reason="the teacher needs the [teacher] extra")


def test_teacher_separates_people_and_is_cached(tmp_path, monkeypatch):
    from siamface.train import teacher
    from siamface.train.faces import Root

    root = tmp_path / "people"
    root.mkdir()
    names = sorted(p.name for p in data_dir("dev", "celeba").iterdir())[:3]
    for name in names:
        (root / name).symlink_to(data_dir("dev", "celeba") / name)
    found = teacher.teacher_embeddings(Root(root), tmp_path / "cache", per_identity=4, progress=False)
    assert len(found) >= 10
    vectors = {path: v for path, v in found.items()}
    owner = {path: next(n for n in names if f"/{n}/" in path) for path in vectors}
    same, different = [], []
    paths = sorted(vectors)
    for i, a in enumerate(paths):
        for b in paths[i + 1 :]:
            (same if owner[a] == owner[b] else different).append(float(vectors[a] @ vectors[b]))
    print(f"teacher cosine: same person {np.mean(same):.3f}, different people {np.mean(different):.3f}")
    assert np.mean(same) > np.mean(different) + 0.1

    class Refuse:
        def __init__(self):
            raise AssertionError("the teacher ran again instead of reading its cache")

    monkeypatch.setattr(teacher, "DlibTeacher", Refuse)
    again = teacher.teacher_embeddings(Root(root), tmp_path / "cache", per_identity=4, progress=False)
    assert sorted(again) == paths and all(np.array_equal(again[p], vectors[p]) for p in paths)
