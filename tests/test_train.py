"""train-model on real faces: a small run learns, reuses its cache, and resumes after an interruption."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from .conftest import REPO, data_dir

pytest.importorskip("tensorflow", reason="training needs the [train] extra")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A recipe over a handful of identities, validated on all 3,000 dev pairs (smaller sets are too noisy)."""
    work = tmp_path_factory.mktemp("train")
    celeba = work / "celeba80"
    celeba.mkdir()
    for person in sorted(data_dir("train", "celeba").iterdir())[:80]:
        (celeba / person.name).symlink_to(person)
    recipe = {
        "data": {
            "roots": [
                {"path": str(celeba)},
                {"path": str(data_dir("train", "faces94"))},
                {"path": str(data_dir("train", "att")), "cropped": True},
            ],
            "pairs": str(data_dir("dev", "pairs.txt")),
            "pairs_images": str(data_dir("dev", "celeba")),
            "cache": str(work / "cache"),
        },
        "model": {"backbone": "tiny", "input_size": 64},
        "objectives": {"pair": "contrastive", "margin_softmax": "cosface"},
        "training": {
            "epochs": 4,
            "steps_per_epoch": 100,
            "identities_per_batch": 16,
            "learning_rate": 0.005,
            "seed": 3,
        },
        "output": str(work / "run"),
    }
    (work / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    return work


def train_model(*args, env=None):
    return [sys.executable, "-m", "siamface.train.cli", *args]


def test_small_run_beats_the_untrained_network(workdir):
    started = time.perf_counter()
    result = subprocess.run(
        train_model("--config", str(workdir / "recipe.yaml"), "--quiet"), cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((workdir / "run" / "report.json").read_text())
    untrained, trained = report["untrained_accuracy"], report["dev_accuracy"]
    head = report["history"][-1]["similarity_accuracy"]
    print(
        f"dev accuracy: untrained {untrained:.3f}, trained {trained:.3f}, similarity model {head:.3f} "
        f"in {report['training_minutes']:.1f} min ({time.perf_counter() - started:.0f} s wall)"
    )
    assert report["training_minutes"] < 2.0
    assert trained >= untrained + 0.05, f"training did not learn: {untrained:.3f} -> {trained:.3f}"
    # The similarity model reads the same embeddings, so it should tell the dev pairs apart about as
    # well as their cosine; trained on hard negatives alone it stayed at chance (0.50).
    assert head >= trained - 0.05, f"similarity model {head:.3f} against cosine {trained:.3f}"
    assert [row["epoch"] for row in report["history"]] == [0, 1, 2, 3, 4]
    for name in ("model.keras", "similarity.keras", "curves.png", "checkpoint.npz"):
        assert (workdir / "run" / name).exists()
    from siamface.train.modelfile import read_contract

    contract = read_contract(workdir / "run" / "model.keras")
    assert (contract.width, contract.channels, contract.embedding_size) == (64, "rgb", 128)


def test_second_run_reuses_the_face_cache(workdir, monkeypatch):
    """The second load of the same roots reads the cache and detects nothing."""
    from siamface.edge.contract import ModelContract
    from siamface.train import faces

    class NoDetection:
        def __init__(self, *args, **kwargs):
            raise AssertionError("faces were detected again instead of read from the cache")

    contract = ModelContract(64, 64, "rgb", "nhwc", (127.5,), (128.0,), 0.2, 128)
    roots = [faces.Root(data_dir("train", "faces94")), faces.Root(data_dir("train", "att"), cropped=True)]
    cache = workdir / "cache" / "faces"
    first = faces.load_faces(roots, contract, cache, progress=False)  # fills the cache if no run did yet
    monkeypatch.setattr(faces, "HaarDetector", NoDetection)
    second = faces.load_faces(roots, contract, cache, progress=False)
    assert len(second.labels) == len(first.labels) == 368 + 400
    assert (second.crops == first.crops).all()


def test_interrupted_run_resumes_from_its_checkpoint(workdir):
    out = workdir / "resume"
    command = train_model(
        "--config", str(workdir / "recipe.yaml"), "--output", str(out), "--epochs", "3", "--steps", "30", "--quiet"
    )
    # A shell without job control starts background jobs with SIGINT ignored, and the child would
    # inherit that (CI launched with `&` does): give it the default, as a terminal's Ctrl-C would find.
    child = subprocess.Popen(
        command,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 300
    while not (out / "checkpoint.npz").exists() and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.2)
    child.send_signal(signal.SIGINT)  # as Ctrl-C, during epoch 2
    _, err = child.communicate(timeout=120)
    assert child.returncode == 130, err[-2000:]
    assert "run the same command again to resume" in err
    first = json.loads((out / "report.json").read_text())["history"]
    assert [row["epoch"] for row in first] == [0, 1]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, env={**os.environ})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "resuming from" in result.stderr and "at epoch 2" in result.stderr
    history = json.loads((out / "report.json").read_text())["history"]
    assert [row["epoch"] for row in history] == [0, 1, 2, 3]
    assert history[1] == first[1]  # the finished epoch was kept, not trained again


def test_bad_recipe_values_get_one_line(workdir, capsys):
    from siamface.train.cli import main

    bad = workdir / "bad.yaml"
    bad.write_text("model:\n  backbone: resnet\n")
    assert main(["--config", str(bad)]) == 2
    assert "bad.yaml: model.backbone='resnet', expected one of tiny, mobile, vgg16" in capsys.readouterr().err
    bad.write_text("data:\n  roots: [/no/such/folder]\n")
    assert main(["--config", str(bad)]) == 2
    assert "data.roots[0].path='/no/such/folder': no such folder" in capsys.readouterr().err
    bad.write_text("trainng:\n  epochs: 3\n")
    assert main(["--config", str(bad)]) == 2
    assert "unknown key trainng" in capsys.readouterr().err
    assert main(["--config", str(workdir / "recipe.yaml"), "--width", "3"]) == 2
    assert "recipe.yaml: model.width=3.0" in capsys.readouterr().err
    assert main(["--config", str(workdir / "recipe.yaml"), "--input-size", "16"]) == 2
    assert "recipe.yaml: model.input_size=16" in capsys.readouterr().err
    assert main(["--config", str(workdir / "recipe.yaml"), "--weight-decay", "-0.1"]) == 2
    assert "recipe.yaml: training.weight_decay=-0.1" in capsys.readouterr().err
    assert main(["--config", str(workdir / "recipe.yaml"), "--output-stride", "8"]) == 2
    assert "recipe.yaml: model.output_stride=8" in capsys.readouterr().err
    assert main(["--config", str(workdir / "recipe.yaml"), "--output-stride", "16"]) == 2  # its backbone is tiny
    assert "recipe.yaml: model.output_stride 16 is for the mobile backbone, not tiny" in capsys.readouterr().err


@pytest.mark.parametrize("backbone", ["tiny", "mobile", "vgg16"])
def test_backbones_give_unit_embeddings_and_a_symmetric_similarity(backbone):
    import numpy as np

    from siamface.train.model import embedding_model, similarity_model

    model = embedding_model(backbone, 64, 3, 32, alpha=0.35)
    x = np.random.default_rng(0).normal(size=(3, 64, 64, 3)).astype("float32")
    out = np.asarray(model(x, training=False))
    assert out.shape == (3, 32)
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    similarity = similarity_model(32)
    ab = np.asarray(similarity([out[:1], out[1:2]]))
    ba = np.asarray(similarity([out[1:2], out[:1]]))
    assert 0.0 < ab[0, 0] < 1.0 and np.isclose(ab, ba).all()  # the order of the two faces does not matter


def test_output_stride_16_doubles_the_final_map_and_survives_saving(tmp_path):
    import keras
    import numpy as np

    from siamface.train.model import embedding_model

    coarse = embedding_model("mobile", 112, 3, 32, alpha=0.35)
    fine = embedding_model("mobile", 112, 3, 32, alpha=0.35, output_stride=16)
    assert coarse.get_layer("gdc").kernel_size == (4, 4)
    assert fine.get_layer("gdc").kernel_size == (7, 7)
    fine.save(tmp_path / "fine.keras")
    loaded = keras.saving.load_model(tmp_path / "fine.keras", compile=False)
    x = np.random.default_rng(0).normal(size=(2, 112, 112, 3)).astype("float32")
    assert np.allclose(np.asarray(loaded(x, training=False)), np.asarray(fine(x, training=False)), atol=1e-5)
    with pytest.raises(ValueError, match="output_stride 16 is for the mobile backbone only"):
        embedding_model("tiny", 64, 3, 32, output_stride=16)
