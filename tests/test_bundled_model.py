"""The model that ships in edge/models, with the threshold that ships in config.yaml, on dev people.

None of the dev identities was seen in training, so this is the out-of-the-box behaviour a user gets.
"""

import json

import numpy as np
import pytest

from siamface.edge import config as config_io
from siamface.edge.errors import SiamfaceError
from siamface.edge.evaluation.evaluate import embed_images, pair_paths
from siamface.edge.evaluation.pairs import read_pairs
from siamface.edge.loop.detect import HaarDetector
from siamface.edge.loop.embed import DEFAULT_MODEL, Embedder

from .conftest import REPO, data_dir

PUBLIC_DOMAIN = DEFAULT_MODEL.with_name("siamface-resnet-pd.onnx")
# Each bundled model with the figures its threshold command wrote.
BUNDLED = [(DEFAULT_MODEL, "default-model"), (PUBLIC_DOMAIN, "public-domain-model")]


def test_bundled_model_is_found_by_default_and_named_in_the_config():
    config = config_io.load(REPO / "config.yaml")
    assert config.model_path == DEFAULT_MODEL
    assert DEFAULT_MODEL.is_file()
    assert DEFAULT_MODEL.with_suffix(".json").is_file()  # its export report travels with it
    assert "standin" not in DEFAULT_MODEL.name


def test_the_shipped_config_and_the_built_in_defaults_take_their_scores_from_the_model():
    # Scores belong to a model's scale: neither config.yaml nor the built-in defaults hold a copy.
    shipped, built_in = config_io.load(REPO / "config.yaml"), config_io.parse({}, None)
    for config in (shipped, built_in):
        assert (
            config.threshold is config.margin is config.tracking.threshold is config.tracking.stranger_threshold is None
        )
    scores = Embedder(DEFAULT_MODEL).contract.scores
    resolved = config_io.with_model_scores(shipped, scores, DEFAULT_MODEL)
    assert (resolved.threshold, resolved.margin) == (scores["threshold"], scores["margin"])
    assert resolved.tracking.threshold == scores["track_threshold"]
    assert resolved.tracking.stranger_threshold == scores["stranger_threshold"]
    assert resolved.tracking.jump_similarity == resolved.threshold  # the far-jump gate is the naming standard
    assert resolved.tracking.margin == resolved.margin


def test_a_config_score_wins_over_the_models_and_a_model_without_scores_needs_them_in_the_config(tmp_path):
    import onnx

    scores = Embedder(DEFAULT_MODEL).contract.scores
    resolved = config_io.with_model_scores(config_io.parse({"match": {"threshold": 0.5}}, None), scores, DEFAULT_MODEL)
    assert resolved.threshold == 0.5 and resolved.tracking.jump_similarity == 0.5
    assert resolved.tracking.threshold == scores["track_threshold"]
    bare = tmp_path / "bare.onnx"
    proto = onnx.load(str(DEFAULT_MODEL))
    kept = {p.key: p.value for p in proto.metadata_props if not p.key.startswith("siamface.match.")}
    onnx.helper.set_model_props(proto, kept)
    bare.write_bytes(proto.SerializeToString())
    with pytest.raises(SiamfaceError, match=r"bare.onnx: the model carries no match.threshold .* sets none"):
        config_io.with_model_scores(config_io.parse({}, None), Embedder(bare).contract.scores, bare)


@pytest.mark.parametrize("model, figures", BUNDLED)
def test_the_models_scores_are_the_ones_calibrated_for_it(model, figures):
    """Each bundled model carries what `python -m siamface.export.threshold --write` found for it
    (docs/<figures>/threshold.json), to the four decimals it writes."""
    figures = json.loads((REPO / "docs" / figures / "threshold.json").read_text())
    embedder = Embedder(model)
    assert figures["model_sha256"] == embedder.fingerprint
    for key in ("threshold", "track_threshold", "stranger_threshold"):
        assert embedder.contract.scores[key] == pytest.approx(figures[key], abs=1e-4)


@pytest.mark.parametrize("model", [DEFAULT_MODEL, PUBLIC_DOMAIN], ids=["default", "public-domain"])
def test_same_person_clears_the_shipped_threshold_far_more_often_than_a_stranger(model):
    images = data_dir("dev", "celeba")
    pairs_file = data_dir("dev", "pairs.txt")
    threshold = Embedder(model).contract.scores["threshold"]
    pairs = read_pairs(pairs_file)
    paths = pair_paths(pairs, images, pairs_file)
    embedded = embed_images([p for pair in paths for p in pair], HaarDetector(), Embedder(model), progress=False)
    v = embedded.vectors
    scores = np.array([float(v[a] @ v[b]) for a, b in paths])
    same = np.array([p.same for p in pairs])
    genuine_rate = float(np.mean(scores[same] >= threshold))
    stranger_rate = float(np.mean(scores[~same] >= threshold))
    print(f"threshold {threshold}: same person above it {genuine_rate:.3f}, stranger {stranger_rate:.4f}")
    # The threshold was chosen for a false-accept rate of 1e-3 on the dev identities (README); on
    # these 1,500 stranger pairs that is about 1.5 expected false accepts.
    assert stranger_rate <= 0.005
    # Single photo against single photo at a strict threshold: figures in docs/bundled-model.md.
    assert genuine_rate - stranger_rate >= 0.5


def test_a_config_naming_the_bundled_models_old_file_gets_the_bundled_model(caplog):
    config = config_io.parse({"model": {"path": "/opt/siamface/edge/models/siamface-mobile.onnx"}}, None)
    assert config.model_path == DEFAULT_MODEL
    assert "is the bundled model's old name" in caplog.text


def test_a_bare_name_of_a_bundled_model_finds_the_installed_copy(tmp_path):
    config = config_io.parse({"model": {"path": "siamface-resnet-pd.onnx"}}, None)
    assert config.model_path == PUBLIC_DOMAIN and PUBLIC_DOMAIN.is_file()
    assert PUBLIC_DOMAIN.with_suffix(".json").is_file()
    # a file of that name beside the config is the user's, and wins
    (tmp_path / "siamface-resnet-pd.onnx").write_bytes(b"mine")
    (tmp_path / "config.yaml").write_text("model:\n  path: siamface-resnet-pd.onnx\n")
    assert config_io.load(tmp_path / "config.yaml").model_path == tmp_path / "siamface-resnet-pd.onnx"
    # a name that no bundled model has stays the user's path, for the one-line error where it is opened
    missing = config_io.parse({"model": {"path": "siamface-nothing.onnx"}}, None)
    assert missing.model_path.name == "siamface-nothing.onnx" and not missing.model_path.exists()
