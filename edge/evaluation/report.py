"""The evaluation report as people read it: one aligned line per figure (``face-edge evaluate``)."""

from __future__ import annotations

from pathlib import Path


def table(r: dict, identify: bool) -> str:
    """The report of evaluate.verification or evaluate.identification as aligned text."""
    rows = [("model", f"{Path(r['model']).name} sha256 {r['model_sha256'][:12]}…")]
    if identify:
        rows += [
            ("enrolled", f"{r['enrolled_people']} people, {r['photos_per_person']} photos each"),
            (
                "probes",
                f"{r['genuine_probes']} of enrolled people, {r['stranger_probes']} of {r['strangers']} strangers",
            ),
            ("rank-1 identification", f"{r['rank1']:.4f}"),
            (
                f"at threshold {r['threshold']:.3f}",
                f"named right {r['true_accept_rate']:.4f}, strangers named {r['false_accept_rate']:.4f}",
            ),
            ("DIR @ FAR 1e-2", f"{r['dir_at_far_1e-2']:.4f} (threshold {r['threshold_at_far_1e-2']:.4f})"),
            ("DIR @ FAR 1e-3", f"{r['dir_at_far_1e-3']:.4f} (threshold {r['threshold_at_far_1e-3']:.4f})"),
        ]
    else:
        rows += [
            ("pairs", str(r["pairs"])),
            ("accuracy (10-fold)", f"{r['accuracy']:.4f} ± {r['std']:.4f}"),
            ("ROC AUC", f"{r['auc']:.4f}"),
            ("TAR @ FAR 1e-2", f"{r['tar_at_far_1e-2']:.4f} (threshold {r['threshold_at_far_1e-2']:.4f})"),
            ("TAR @ FAR 1e-3", f"{r['tar_at_far_1e-3']:.4f} (threshold {r['threshold_at_far_1e-3']:.4f})"),
            (
                "best threshold",
                f"{r['best_threshold']:.4f} (accuracy {r['accuracy_at_best_threshold']:.4f} on all pairs)",
            ),
        ]
    rows += [
        ("images", f"{r['images']}, {r['fallbacks']} with no face found (whole image used)"),
        ("time", f"{1000 * r['seconds_per_image']:.1f} ms per image"),
    ]
    rows += [("plot", p) for p in r.get("plots", [])]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
