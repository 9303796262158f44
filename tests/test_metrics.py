"""The protocol code on hand-made cases whose answers are known."""

import re

import numpy as np
import pytest

from siamface.edge.errors import SiamfaceError
from siamface.edge.evaluation import lfw_metrics as metrics
from siamface.edge.evaluation.pairs import read_pairs

pytestmark = pytest.mark.arm64


def folds_of(n_folds: int, per_fold: int) -> np.ndarray:
    return np.repeat(np.arange(n_folds), per_fold)


def test_perfectly_separable_scores_give_accuracy_one():
    rng = np.random.default_rng(1)
    labels = np.tile(np.r_[np.ones(10, bool), np.zeros(10, bool)], 10)
    scores = np.where(labels, rng.uniform(0.6, 1.0, labels.size), rng.uniform(-0.5, 0.4, labels.size))
    result = metrics.kfold_accuracy(scores, labels, folds_of(10, 20))
    assert result.accuracy == 1.0 and result.std == 0.0
    assert metrics.auc(scores, labels) == 1.0
    assert metrics.tar_at_far(scores, labels, 1e-3)[0] == 1.0
    assert all(0.4 <= t <= 0.6 for t in result.fold_thresholds)


def test_reversed_scores_give_half_or_less():
    rng = np.random.default_rng(2)
    labels = np.tile(np.r_[np.ones(10, bool), np.zeros(10, bool)], 10)
    scores = np.where(labels, rng.uniform(-0.5, 0.4, labels.size), rng.uniform(0.6, 1.0, labels.size))
    assert metrics.kfold_accuracy(scores, labels, folds_of(10, 20)).accuracy <= 0.5
    assert metrics.auc(scores, labels) == 0.0


def test_threshold_for_a_fold_never_sees_that_fold():
    rng = np.random.default_rng(3)
    labels = np.tile(np.r_[np.ones(10, bool), np.zeros(10, bool)], 10)
    scores = rng.normal(np.where(labels, 0.5, 0.0), 0.2)
    folds = folds_of(10, 20)
    before = metrics.kfold_accuracy(scores, labels, folds)
    changed = scores.copy()
    changed[folds == 4] = rng.uniform(-5, 5, 20)  # wreck fold 4 only
    after = metrics.kfold_accuracy(changed, labels, folds)
    assert after.fold_thresholds[4] == before.fold_thresholds[4]
    # Fold 4 does feed every other fold's threshold, so the check above could have failed.
    assert any(a != b for a, b in zip(after.fold_thresholds, before.fold_thresholds))
    expected, _ = metrics.best_threshold(scores[folds != 4], labels[folds != 4])
    assert before.fold_thresholds[4] == expected


def test_small_known_cases():
    scores = np.array([0.1, 0.4, 0.35, 0.8])
    labels = np.array([False, False, True, True])
    assert metrics.auc(scores, labels) == pytest.approx(0.75)  # 3 of 4 genuine/impostor orderings right
    threshold, accuracy = metrics.best_threshold(scores, labels)
    assert accuracy == 0.75 and 0.1 < threshold <= 0.8
    # Ten impostors: FAR 0.1 accepts at most one of them.
    impostors = np.linspace(0.0, 0.9, 10)
    genuine = np.array([0.85, 0.95, 0.5])
    s = np.r_[genuine, impostors]
    y = np.r_[np.ones(3, bool), np.zeros(10, bool)]
    tar, thr = metrics.tar_at_far(s, y, 0.1)
    assert np.mean(impostors >= thr) <= 0.1 and 0.8 < thr <= 0.85 and tar == pytest.approx(2 / 3)


def test_pairs_file_errors_name_the_line(tmp_path):
    good = tmp_path / "pairs.txt"
    good.write_text("1\t2\na\t1\t2\nb\t1\t3\na\t1\tb\t2\nc\t4\td\t1\n")
    pairs = read_pairs(good)
    assert [p.same for p in pairs] == [True, True, False, False]
    assert pairs[2].first == ("a", 1) and pairs[2].second == ("b", 2)
    bad = tmp_path / "bad.txt"
    bad.write_text("1\t2\na\t1\t2\nb\t1\nc\t4\td\t1\ne 1 f 2\n")
    with pytest.raises(SiamfaceError, match=re.escape("bad.txt: line 3: 'b\\t1', expected 'name i j' (same person)")):
        read_pairs(bad)
    short = tmp_path / "short.txt"
    short.write_text("2\t2\na\t1\t2\n")
    with pytest.raises(SiamfaceError, match=r"short.txt: 1 pair lines, header says 2 folds of 2x2 = 8"):
        read_pairs(short)


def test_detection_identification_rate_counts_right_and_confident_probes_only():
    best = np.array([0.9, 0.8, 0.7, 0.95])
    correct = np.array([True, True, True, False])  # the 0.95 probe named the wrong person
    rates = metrics.detection_identification_rate(best, correct, [0.75, 0.85, 0.99])
    assert rates.tolist() == [0.5, 0.25, 0.0]
