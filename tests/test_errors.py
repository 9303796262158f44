"""Bad input gets one line naming the file, the field and what was expected, and exit status 2."""

import textwrap

import pytest

from siamface.edge.cli import main

from .conftest import REPO

pytestmark = pytest.mark.arm64

ASTRONAUT = str(REPO / "samples" / "astronaut.jpg")


def one_line_error(capsys, argv) -> str:
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if line.startswith("face-edge: error:")]
    assert len(errors) == 1, err
    return errors[0]


def write_config(tmp_path, body: str):
    path = tmp_path / "config.yaml"
    path.write_text(textwrap.dedent(body))
    return str(path)


def test_corrupt_and_missing_images(tmp_path, capsys):
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    line = one_line_error(capsys, ["verify", str(corrupt), ASTRONAUT])
    assert "corrupt.jpg: not a readable image" in line
    line = one_line_error(capsys, ["verify", str(tmp_path / "gone.jpg"), ASTRONAUT])
    assert "gone.jpg: image not found" in line


def test_empty_folder_and_unknown_source(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    gallery = tmp_path / "g.npz"
    assert main(["enroll", "--quiet", "--gallery", str(gallery), "--person", "eileen", ASTRONAUT]) == 0
    line = one_line_error(capsys, ["run", "--gallery", str(gallery), "--source", str(tmp_path / "empty")])
    assert "empty: folder has no images (expected" in line
    line = one_line_error(capsys, ["run", "--gallery", str(gallery), "--source", "nowhere/at/all"])
    assert "'nowhere/at/all': no such file or folder" in line


def test_missing_gallery_says_how_to_make_one(tmp_path, capsys):
    line = one_line_error(capsys, ["run", "--gallery", str(tmp_path / "none.npz"), "--source", ASTRONAUT])
    assert "none.npz: gallery file not found; create it with 'face-edge enroll'" in line


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("detecter:\n  min_size: 30\n", "unknown key detecter (known keys here: source, camera, detector"),
        ("match:\n  threshold: high\n", "match.threshold='high', expected a cosine similarity between -1 and 1"),
        ("match:\n  threshold: 3\n", "match.threshold=3, expected a cosine similarity between -1 and 1"),
        ("detector:\n  min_size: 4\n", "detector.min_size=4, expected the smallest face side in pixels"),
        ("detector:\n  kind: haar\n  cascade: nothere.xml\n", "detector.cascade='nothere.xml': no such file"),
        ("detector:\n  kind: mtcnn\n", "detector.kind='mtcnn', expected one of haar, blazeface"),
        ("model:\n  path: missing.onnx\n", "missing.onnx: model file not found (model.path)"),
        ("people:\n  alice: photos/alice/*.jpg\n", "people.alice: 'photos/alice/*.jpg' matches no file"),
        ("match: [1, 2\n", "not valid YAML"),
        ("logging:\n  level: loud\n", "logging.level='loud', expected one of debug, info, warning, error"),
        ("detector:\n  between: skip\n", "detector.between='skip', expected one of roi, hold"),
        ("detector:\n  full_every: 0\n", "detector.full_every=0, expected a whole number of at least 1"),
    ],
)
def test_bad_config_values(tmp_path, capsys, body, expected):
    if "people" not in body:  # so that enrolment gets as far as the model and the detector
        body += f"people:\n  eileen: {ASTRONAUT}\n"
    config = write_config(tmp_path, body)
    line = one_line_error(capsys, ["enroll", "--quiet", "--config", config])
    assert expected in line
    assert "config.yaml" in line or "missing.onnx" in line or "nothere.xml" in line


def test_bad_override_and_missing_config(tmp_path, capsys):
    line = one_line_error(capsys, ["verify", "--threshold", "2", ASTRONAUT, ASTRONAUT])
    assert "--threshold=2.0, expected a cosine similarity between -1 and 1" in line
    line = one_line_error(capsys, ["run", "--config", str(tmp_path / "nope.yaml")])
    assert "nope.yaml: config file not found" in line


def test_check_reports_each_part(tmp_path, capsys):
    gallery = tmp_path / "g.npz"
    assert main(["enroll", "--quiet", "--gallery", str(gallery), "--person", "eileen", ASTRONAUT]) == 0
    capsys.readouterr()
    assert main(["check", "--gallery", str(gallery), "--source", ASTRONAUT]) == 0
    out = capsys.readouterr().out
    for part in ("config", "model", "detector", "gallery", "source"):
        assert f"ok    {part}:" in out
    assert main(["check", "--gallery", str(tmp_path / "none.npz"), "--source", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "FAIL  gallery:" in out and "FAIL  source:" in out and "ok    model:" in out
