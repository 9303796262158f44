import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from siamface.edge import gallery as gallery_io
from siamface.edge.errors import SiamfaceError
from siamface.edge.gallery import Gallery, PhotoRecord

pytestmark = pytest.mark.arm64


def sample_gallery(names=("alice", "bob"), dims=8) -> Gallery:
    rng = np.random.default_rng(0)
    people = {
        n: [
            PhotoRecord(
                f"/photos/{n}_{i}.jpg",
                f"{i:064x}",
                "2026-01-01T00:00:00+00:00",
                rng.normal(size=dims).astype(np.float32),
            )
            for i in range(2)
        ]
        for n in names
    }
    return Gallery("ab" * 32, 1, dims, people)


def test_round_trip_keeps_people_and_embeddings(tmp_path):
    original = sample_gallery()
    gallery_io.save(original, tmp_path / "g.npz")
    loaded = gallery_io.load(tmp_path / "g.npz")
    assert loaded.names() == ["alice", "bob"]
    assert loaded.model_sha256 == original.model_sha256
    for name in original.people:
        for a, b in zip(original.people[name], loaded.people[name]):
            assert (a.path, a.sha256) == (b.path, b.sha256)
            assert np.array_equal(a.embedding, b.embedding)
    with zipfile.ZipFile(tmp_path / "g.npz") as archive:  # embeddings and a JSON header, no pickled objects
        assert sorted(archive.namelist()) == ["embeddings.npy", "header.npy"]


CRASH = """
import sys, os, numpy as np
from siamface.edge import gallery as g
sys.path.insert(0, {tests!r})
from test_gallery import sample_gallery

def dying_savez(handle, **arrays):
    handle.write(b"PK\\x03\\x04 half a zip")
    handle.flush()
    os._exit(9)  # the process dies mid-write, as in a power cut, with no cleanup

np.savez = dying_savez
g.save(sample_gallery(("carol",)), {path!r})
"""


def test_crash_mid_write_leaves_the_old_gallery_intact(tmp_path):
    path = tmp_path / "g.npz"
    gallery_io.save(sample_gallery(), path)
    before = path.read_bytes()
    code = subprocess.run(
        [sys.executable, "-c", CRASH.format(tests=os.path.dirname(__file__), path=str(path))]
    ).returncode
    assert code == 9
    assert path.read_bytes() == before
    assert gallery_io.load(path).names() == ["alice", "bob"]


def test_failed_write_cleans_up_its_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "g.npz"
    gallery_io.save(sample_gallery(), path)

    def failing(handle, **arrays):
        handle.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", failing)
    with pytest.raises(OSError):
        gallery_io.save(sample_gallery(("carol",)), path)
    assert [p.name for p in tmp_path.iterdir()] == ["g.npz"]
    monkeypatch.undo()
    assert gallery_io.load(path).names() == ["alice", "bob"]


def test_damaged_or_missing_gallery_gives_a_clear_error(tmp_path):
    with pytest.raises(SiamfaceError, match=r"nope.npz: gallery file not found; create it with 'face-edge enroll'"):
        gallery_io.load(tmp_path / "nope.npz")
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(SiamfaceError, match=r"bad.npz: not a readable siamface gallery"):
        gallery_io.load(tmp_path / "bad.npz")
