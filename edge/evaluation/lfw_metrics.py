"""Verification metrics of the LFW protocol: k-fold accuracy, ROC, AUC and TAR at a given FAR.

Scores are similarities (higher means more alike); labels are True for same-person pairs.
Plain numpy, so the protocol can be checked on hand-made cases whose answers are known.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def candidate_thresholds(scores: np.ndarray) -> np.ndarray:
    """Midpoints between sorted distinct scores, plus one below and one above them all."""
    unique = np.unique(scores)
    if len(unique) == 0:
        return np.array([0.0])
    middle = (unique[1:] + unique[:-1]) / 2
    return np.concatenate([[unique[0] - 1e-6], middle, [unique[-1] + 1e-6]])


def accuracy_at(scores: np.ndarray, labels: np.ndarray, threshold: float) -> float:
    return float(np.mean((scores >= threshold) == labels))


def best_threshold(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(threshold, accuracy) maximising accuracy on these pairs; ties go to the middle of the best run."""
    thresholds = candidate_thresholds(scores)
    order = np.argsort(scores)
    sorted_scores, sorted_labels = scores[order], labels[order].astype(np.int64)
    # Pairs below a threshold are called different: correct for impostors, wrong for genuines.
    below = np.searchsorted(sorted_scores, thresholds, side="left")
    impostors_below = np.concatenate([[0], np.cumsum(1 - sorted_labels)])[below]
    genuines_above = sorted_labels.sum() - np.concatenate([[0], np.cumsum(sorted_labels)])[below]
    correct = impostors_below + genuines_above
    best = np.flatnonzero(correct == correct.max())
    pick = best[len(best) // 2]
    return float(thresholds[pick]), float(correct[pick] / len(scores))


@dataclass(frozen=True)
class FoldResult:
    accuracy: float  # mean over folds
    std: float
    fold_accuracies: tuple[float, ...]
    fold_thresholds: tuple[float, ...]  # each chosen on the other folds only


def kfold_accuracy(scores: np.ndarray, labels: np.ndarray, folds: np.ndarray) -> FoldResult:
    accuracies, thresholds = [], []
    for fold in np.unique(folds):
        test = folds == fold
        threshold, _ = best_threshold(scores[~test], labels[~test])
        thresholds.append(threshold)
        accuracies.append(accuracy_at(scores[test], labels[test], threshold))
    return FoldResult(float(np.mean(accuracies)), float(np.std(accuracies)), tuple(accuracies), tuple(thresholds))


def roc_curve(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(false accept rate, true accept rate, threshold), thresholds falling; accept means score >= threshold."""
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order].astype(np.int64)
    last_of_run = np.r_[np.flatnonzero(np.diff(s) != 0), len(s) - 1]
    tp = np.cumsum(y)[last_of_run]
    fp = np.cumsum(1 - y)[last_of_run]
    tpr = np.r_[0.0, tp / max(y.sum(), 1)]
    fpr = np.r_[0.0, fp / max((1 - y).sum(), 1)]
    return fpr, tpr, np.r_[np.inf, s[last_of_run]]


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    fpr, tpr, _ = roc_curve(scores, labels)
    # The trapezoid rule written out: np.trapezoid is numpy 2 only, and np.trapz is deprecated there.
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1])) / 2)


def threshold_at_far(impostor_scores: np.ndarray, far: float) -> float:
    """The lowest threshold at which at most ``far`` of impostors score at or above it."""
    s = np.sort(impostor_scores)[::-1]
    allowed = int(np.floor(far * len(s)))  # impostors that may be accepted
    if allowed >= len(s):
        return float(s[-1])
    # Accept strictly above the (allowed+1)-th highest impostor score.
    # Stepped in the scores' own precision: a float64 step off a float32 score rounds back onto it
    # when compared with float32 scores under numpy 1.x's casting, accepting that impostor too.
    return float(np.nextafter(s[allowed], s.dtype.type(np.inf)))


def tar_at_far(scores: np.ndarray, labels: np.ndarray, far: float) -> tuple[float, float]:
    """(true accept rate, threshold) at the given false accept rate."""
    threshold = threshold_at_far(scores[~labels], far)
    return float(np.mean(scores[labels] >= threshold)), threshold


def detection_identification_rate(
    genuine_best: np.ndarray, genuine_correct: np.ndarray, thresholds: np.ndarray | float
) -> np.ndarray:
    """Open-set identification's DIR at each threshold: the share of enrolled probes whose best
    match is the right person and scores at least the threshold."""
    t = np.atleast_1d(np.asarray(thresholds, dtype=np.float64))
    return np.mean(genuine_correct[None, :] & (genuine_best[None, :] >= t[:, None]), axis=1)
