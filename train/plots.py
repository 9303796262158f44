"""PNG curves of a training run."""

from __future__ import annotations

from pathlib import Path

from siamface.edge.evaluation.plots import _pyplot, _save


def training_curves(history: list[dict], path: Path) -> Path:
    plt = _pyplot()
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 4))
    epochs = [row["epoch"] for row in history]
    for key in ("loss", "pair", "softmax", "distill", "similarity"):
        points = [(row["epoch"], row[key]) for row in history if key in row]
        if points:
            loss_ax.plot(*zip(*points), marker="o", label=key)
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("mean loss")
    if loss_ax.lines:
        loss_ax.legend()
    for key, label in (("accuracy", "cosine"), ("similarity_accuracy", "similarity model")):
        points = [(row["epoch"], row[key]) for row in history if key in row]
        if points:
            acc_ax.plot(*zip(*points), marker="o", label=label)
    acc_ax.set_xlabel("epoch")
    acc_ax.set_ylabel("dev pairs accuracy (10-fold)")
    acc_ax.set_xticks(epochs)
    if acc_ax.lines:
        acc_ax.legend()
    path = _save(fig, path)
    plt.close(fig)
    return path


def refine_rounds(rounds: list[dict], path: Path) -> Path:
    """Captures labelled per round, and the labels' precision and recall where the truth is known."""
    plt = _pyplot()
    fig, (count_ax, rate_ax) = plt.subplots(1, 2, figsize=(10, 4))
    numbers = [row["round"] for row in rounds]
    count_ax.plot(numbers, [row["labelled"] for row in rounds], marker="o", label="labelled")
    if "strangers_labelled" in rounds[0]:
        count_ax.plot(numbers, [row["strangers_labelled"] for row in rounds], marker="o", label="strangers labelled")
    count_ax.set_xlabel("round (0: the starting network)")
    count_ax.set_ylabel("captures")
    count_ax.legend()
    for key in ("precision", "recall"):
        if key in rounds[0]:
            rate_ax.plot(numbers, [row[key] for row in rounds], marker="o", label=key)
    rate_ax.set_xlabel("round (0: the starting network)")
    rate_ax.set_ylabel("labels (where the truth is known)")
    for ax in (count_ax, rate_ax):
        ax.set_xticks(numbers)
    if rate_ax.lines:
        rate_ax.legend()
    path = _save(fig, path)
    plt.close(fig)
    return path
