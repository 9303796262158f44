"""PNG plots of evaluation and calibration results (matplotlib, imported only when asked for)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import SiamfaceError
from . import lfw_metrics as metrics


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise SiamfaceError("PNG plots need matplotlib: pip install 'siamface[plots]'") from None
    matplotlib.use("Agg")  # no display on a Pi or in CI
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    from ..atomic import write_atomically

    write_atomically(path, lambda handle: fig.savefig(handle, format="png", dpi=110, bbox_inches="tight"))
    return path


def _rate_axes(ax, x: np.ndarray, y: np.ndarray, xlabel: str, ylabel: str, title: str) -> None:
    """A rate against a false-accept rate on a log axis from 1e-4 (rates of 0 drawn at 1e-4)."""
    ax.plot(np.maximum(x, 1e-4), y, color="tab:blue")
    ax.set_xscale("log")
    ax.set_xlim(1e-4, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)


def score_histogram(
    genuine: np.ndarray,
    impostor: np.ndarray,
    path: Path,
    title: str,
    threshold: float | None = None,
    labels: tuple[str, str] = ("same person", "different people"),
) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4))
    bins = np.linspace(min(genuine.min(initial=1), impostor.min(initial=1)), 1.0, 60)
    ax.hist(impostor, bins=bins, alpha=0.6, density=True, label=f"{labels[1]} ({len(impostor)})", color="tab:red")
    ax.hist(genuine, bins=bins, alpha=0.6, density=True, label=f"{labels[0]} ({len(genuine)})", color="tab:green")
    if threshold is not None:
        ax.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.3f}")
    ax.set_xlabel("cosine similarity")
    ax.set_ylabel("density")
    ax.set_title(title)
    ax.legend()
    path = _save(fig, path)
    plt.close(fig)
    return path


def roc_plot(scores: np.ndarray, labels: np.ndarray, path: Path, title: str) -> Path:
    plt = _pyplot()
    fpr, tpr, _ = metrics.roc_curve(scores, labels)
    fig, ax = plt.subplots(figsize=(5, 5))
    _rate_axes(
        ax, fpr, tpr, "false accept rate", "true accept rate", f"{title} (AUC {metrics.auc(scores, labels):.3f})"
    )
    path = _save(fig, path)
    plt.close(fig)
    return path


def dir_far_plot(genuine_best: np.ndarray, genuine_correct: np.ndarray, stranger_best: np.ndarray, path: Path) -> Path:
    """Detection-and-identification rate against the strangers' false accept rate."""
    plt = _pyplot()
    thresholds = np.unique(np.concatenate([stranger_best, genuine_best]))[::-1]
    far = np.array([np.mean(stranger_best >= t) for t in thresholds])
    dir_ = metrics.detection_identification_rate(genuine_best, genuine_correct, thresholds)
    fig, ax = plt.subplots(figsize=(5, 5))
    _rate_axes(
        ax, far, dir_, "false accept rate (strangers)", "detection and identification rate", "open-set identification"
    )
    path = _save(fig, path)
    plt.close(fig)
    return path
