"""The shipped-threshold analysis (python -m siamface.export.threshold) on dev people, with the bundled model."""

import json
from itertools import pairwise

from .conftest import data_dir


def test_threshold_holds_its_false_accept_rate_and_margins_trade_names_for_errors(tmp_path, capsys):
    from siamface.export.threshold import MARGINS, main

    people = tmp_path / "people"
    people.mkdir()
    for folder in sorted(p for p in data_dir("dev", "celeba").iterdir() if p.is_dir())[:20]:
        (people / folder.name).symlink_to(folder)
    out = tmp_path / "threshold.json"
    assert main(["--images", str(people), "--far", "1e-2", "--json", str(out)]) == 0
    figures = json.loads(out.read_text())
    print(capsys.readouterr().out)
    assert figures["people"] == 20 and figures["impostor_scores"] == 19 * figures["genuine_scores"]
    # at the threshold for 1 in 100 impostor scores the bundled model names most genuine photos (0.935)
    assert 0.5 < figures["true_accept_rate"] <= 1.0
    rates = [figures["named_by_margin"][str(m)] for m in MARGINS]
    # With all 20 enrolled, a wider margin names fewer people, rightly and wrongly.
    for looser, stricter in pairwise(rates):
        assert stricter["right"] <= looser["right"] and stricter["wrong"] <= looser["wrong"]
    assert rates[0]["right"] >= figures["true_accept_rate"] - 0.05  # no margin: close to the genuine rate
    assert rates[-1]["right"] < rates[0]["right"]
    # Tracks of video-like frames, each against the 19 people it is not: at their own threshold for
    # 1 in 100, templates name more of the people than single photos do at theirs.
    assert figures["tracks"] >= 20 and figures["track_impostor_scores"] == 19 * figures["tracks"]
    assert figures["track_true_accept_rate"] > figures["true_accept_rate"]
    assert figures["tracks_named"]["wrong"] <= figures["tracks_named_at_frame_threshold"]["wrong"]


def test_scores_written_into_a_model_are_what_the_device_reads_and_the_weights_stay(tmp_path):
    import shutil

    import numpy as np

    from siamface.edge.images import read_image
    from siamface.edge.loop.detect import HaarDetector, photo_faces
    from siamface.edge.loop.embed import DEFAULT_MODEL, Embedder
    from siamface.export.threshold import write_scores

    from .conftest import REPO

    model = tmp_path / "model.onnx"
    shutil.copy(DEFAULT_MODEL, model)
    written = write_scores(
        model, {"threshold": 0.91234, "margin": 0.03, "track_threshold": 0.92, "stranger_threshold": 0.95}
    )
    assert written == {"threshold": 0.9123, "margin": 0.03, "track_threshold": 0.92, "stranger_threshold": 0.95}
    after, before = Embedder(model), Embedder(DEFAULT_MODEL)
    assert after.contract.scores == written and after.fingerprint != before.fingerprint
    image = read_image(REPO / "samples" / "astronaut.jpg")
    box = photo_faces(HaarDetector(), image)[:1]
    assert np.array_equal(after.embed_faces(image, box), before.embed_faces(image, box))
