"""The cross-platform check that CI runs in the arm64 root: it must pass on agreement and fail on drift."""

import numpy as np

from bench import platforms
from siamface.edge.loop.embed import DEFAULT_MODEL

from .conftest import data_dir


def test_the_check_passes_on_the_same_machine_and_fails_when_an_embedding_or_decision_moves():
    data_dir("dev", "pairs.txt")
    reference = platforms.measure(DEFAULT_MODEL, None, 6)
    here = {key: value.copy() for key, value in reference.items()}
    lines, agree = platforms.compare(reference, here, DEFAULT_MODEL)
    assert agree, lines

    # One face's embedding turned towards another face's, as a landmark moved by many pixels would.
    moved = {key: value.copy() for key, value in reference.items()}
    mixed = moved["embeddings"][0] + moved["embeddings"][1]
    moved["embeddings"][0] = mixed / np.linalg.norm(mixed)
    lines, agree = platforms.compare(reference, moved, DEFAULT_MODEL)
    assert not agree and "lowest cosine" in lines[2]

    # A pair far from the threshold that decides the other way.
    threshold = float(reference["threshold"])
    far = int(np.argmax(np.abs(reference["scores"] - threshold)))
    flipped = {key: value.copy() for key, value in reference.items()}
    flipped["scores"][far] = 2 * threshold - reference["scores"][far]
    lines, agree = platforms.compare(reference, flipped, DEFAULT_MODEL)
    assert not agree and "1 of them more than" in lines[3]
