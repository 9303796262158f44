"""The model that ships in edge/models, with the threshold that ships in config.yaml, on dev people.

None of the dev identities was seen in training, so this is the out-of-the-box behaviour a user gets.
"""

import numpy as np

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
    # Measured 0.127 against 0.0000 (the 96-pixel model before it: 0.087 against 0.0007; width 0.5: 0.070): single
    # photo against single photo, a strict threshold and a weak model (README, "The bundled model") name few
    # genuine pairs.
    assert genuine_rate - stranger_rate >= 0.10
