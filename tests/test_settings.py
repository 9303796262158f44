"""Settings are declared once (edge/settings.py): the shipped config.yaml, the checks and the
command-line overrides all follow from those declarations."""

import pytest
import yaml

from siamface.edge import config as config_io
from siamface.edge.cli import build_parser, load_config
from siamface.edge.errors import SiamfaceError
from siamface.edge.loop.embed import DEFAULT_MODEL, Embedder
from siamface.edge.settings import check_keys

from .conftest import REPO

pytestmark = pytest.mark.arm64

EXAMPLES = {"source", "camera", "people"}  # config.yaml shows these with a value of its own


def test_the_shipped_config_names_every_setting_at_its_declared_default():
    data = yaml.safe_load((REPO / "config.yaml").read_text())
    given = check_keys(data, [item.key for _, item in config_io.SETTINGS], "config.yaml")
    for _, item in config_io.SETTINGS:
        assert item.key in given, f"config.yaml does not show {item.key}"
        if item.key not in EXAMPLES:
            assert given[item.key] == item.default, f"config.yaml's {item.key} is not its default"


def args(*argv):
    return build_parser().parse_args(["verify", *argv, "a.jpg", "b.jpg"])


def test_command_line_values_are_checked_as_the_files_are_and_named_by_their_flag(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("match:\n  threshold: 0.5\n")
    with pytest.raises(SiamfaceError, match=r"^--threshold=3.0, expected a cosine similarity between -1 and 1"):
        load_config(args("--config", str(config), "--threshold", "3"))
    with pytest.raises(SiamfaceError, match=r"^--threads=0, expected a whole number of at least 1"):
        load_config(args("--config", str(config), "--threads", "0"))


def test_a_threshold_given_on_the_command_line_reaches_the_trackers_far_jump_gate(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("match:\n  threshold: 0.5\n")
    loaded = load_config(args("--config", str(config), "--threshold", "0.97", "--margin", "0.1"))
    scored = config_io.with_model_scores(loaded, Embedder(DEFAULT_MODEL).contract.scores, DEFAULT_MODEL)
    assert scored.threshold == scored.tracking.jump_similarity == 0.97
    assert scored.margin == scored.tracking.margin == 0.1
