"""The objectives ablation: pair loss alone, margin softmax alone, each with distillation.

Same data, backbone, steps and seed for every variant; prints dev-pairs accuracy and training time.

    python -m train.ablation [--config train/recipes/ablation-base.yaml] [--output runs/ablation]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from edge.atomic import write_text_atomically

VARIANTS = {
    "pair": ["--pair", "contrastive", "--margin-softmax", "none", "--distill", "0"],
    "margin softmax": ["--pair", "none", "--margin-softmax", "cosface", "--distill", "0"],
    "pair + distill": ["--pair", "contrastive", "--margin-softmax", "none", "--distill", "5"],
    "margin softmax + distill": ["--pair", "none", "--margin-softmax", "cosface", "--distill", "5"],
    "pair + centred distill": [
        "--pair",
        "contrastive",
        "--margin-softmax",
        "none",
        "--distill",
        "5",
        "--distill-centre",
    ],
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(Path(__file__).parent / "recipes" / "ablation-base.yaml"))
    parser.add_argument("--output", type=Path, default=Path("runs/ablation"))
    parser.add_argument("--only", nargs="*", help="run only these variants")
    parser.add_argument("extra", nargs=argparse.REMAINDER, help="more train-model flags for every variant")
    args = parser.parse_args(argv)
    summary = args.output / "ablation.json"
    # Earlier results are kept, so variants can be run one at a time (--only).
    rows = [r for r in (json.loads(summary.read_text()) if summary.exists() else []) if r["variant"] in VARIANTS]
    for name, flags in VARIANTS.items():
        if args.only and name not in args.only:
            continue
        out = args.output / name.replace(" + ", "+").replace(" ", "_")
        command = [
            sys.executable,
            "-m",
            "train.cli",
            "--config",
            args.config,
            "--output",
            str(out),
            "--quiet",
            *flags,
            *args.extra,
        ]
        print(f"== {name}: {' '.join(command[2:])}", flush=True)
        subprocess.run(command, check=True)
        report = json.loads((out / "report.json").read_text())
        best = max(report["history"], key=lambda r: r.get("accuracy", 0))
        row = {
            "variant": name,
            "accuracy": report["dev_accuracy"],
            "std": report["history"][-1]["std"],
            "auc": report["history"][-1]["auc"],
            "similarity_accuracy": report["history"][-1]["similarity_accuracy"],
            "best_epoch_accuracy": best["accuracy"],
            "training_minutes": report["training_minutes"],
            "untrained_accuracy": report["untrained_accuracy"],
        }
        rows = [r for r in rows if r["variant"] != name] + [row]
        print(json.dumps(rows[-1]), flush=True)
        write_text_atomically(summary, json.dumps(rows, indent=2))
    rows.sort(key=lambda r: list(VARIANTS).index(r["variant"]))
    print("\n| objectives | dev accuracy (10-fold) | AUC | similarity model | training minutes |")
    print("| --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['variant']} | {r['accuracy']:.4f} ± {r['std']:.4f} | {r['auc']:.4f} | "
            f"{r['similarity_accuracy']:.4f} | {r['training_minutes']:.1f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
