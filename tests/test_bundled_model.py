"""The model that ships in edge/models, with the threshold that ships in config.yaml, on dev people.

None of the dev identities was seen in training, so this is the out-of-the-box behaviour a user gets.
"""

import json

import numpy as np
import pytest

from edge import config as config_io
from edge.detect import HaarDetector
from edge.embed import DEFAULT_MODEL, Embedder
from edge.evaluate import embed_images, pair_paths
from edge.pairs import read_pairs

from .conftest import REPO, data_dir


def test_bundled_model_is_found_by_default_and_named_in_the_config():
    config = config_io.load(REPO / "config.yaml")
    assert config.model_path == DEFAULT_MODEL
    assert DEFAULT_MODEL.is_file()
    assert DEFAULT_MODEL.with_suffix(".json").is_file()  # its export report travels with it
    assert "standin" not in DEFAULT_MODEL.name


def test_built_in_defaults_are_the_shipped_configs_score_settings():
    # Without a config.yaml the device uses its built-in defaults: they must suit the bundled model's
    # score scale (strangers near 0.88), or a missing config file would name strangers.
    shipped, built_in = config_io.load(REPO / "config.yaml"), config_io.parse({}, None)
    assert built_in.threshold == shipped.threshold and built_in.margin == shipped.margin
    assert built_in.tracking.min_similarity == shipped.tracking.min_similarity
    assert built_in.tracking.jump_similarity == shipped.tracking.jump_similarity == shipped.threshold
    assert built_in.tracking == shipped.tracking  # the track threshold and every tracking rule


def test_the_shipped_track_threshold_is_the_one_calibrated_on_tracks():
    """config.yaml's match thresholds are what `python -m export.threshold` found for the bundled
    model (docs/default-model/threshold.json), rounded up to the four decimals it writes."""
    figures = json.loads((REPO / "docs" / "default-model" / "threshold.json").read_text())
    shipped = config_io.load(REPO / "config.yaml")
    assert figures["model_sha256"] == Embedder(DEFAULT_MODEL).fingerprint
    assert shipped.tracking.threshold == pytest.approx(figures["track_threshold"], abs=1e-4)
    assert shipped.threshold == pytest.approx(figures["threshold"], abs=1e-4)
    assert shipped.tracking.stranger_threshold == pytest.approx(figures["stranger_threshold"], abs=1e-4)


def test_same_person_clears_the_shipped_threshold_far_more_often_than_a_stranger():
    images = data_dir("dev", "celeba")
    pairs_file = data_dir("dev", "pairs.txt")
    threshold = config_io.load(REPO / "config.yaml").threshold
    pairs = read_pairs(pairs_file)
    paths = pair_paths(pairs, images, pairs_file)
    embedded = embed_images([p for pair in paths for p in pair], HaarDetector(), Embedder(), progress=False)
    v = embedded.vectors
    scores = np.array([float(v[a] @ v[b]) for a, b in paths])
    same = np.array([p.same for p in pairs])
    genuine_rate = float(np.mean(scores[same] >= threshold))
    stranger_rate = float(np.mean(scores[~same] >= threshold))
    print(f"threshold {threshold}: same person above it {genuine_rate:.3f}, stranger {stranger_rate:.4f}")
    # The threshold was chosen for a false-accept rate of 1e-3 on the dev identities (README); on
    # these 1,500 stranger pairs that is about 1.5 expected false accepts.
    assert stranger_rate <= 0.005
    # Measured 0.683 against 0.0000 with dlib's ResNet factorised and refined (the network we trained ourselves
    # before it: 0.127 against 0.0000): single photo against single photo at a strict threshold.
    assert genuine_rate - stranger_rate >= 0.5
