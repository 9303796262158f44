"""train-model: train the Siamese face-embedding network from a YAML recipe."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from siamface.edge.errors import SiamfaceError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="train-model", description=__doc__)
    parser.add_argument("--config", help="training recipe (YAML); see train/recipe.example.yaml")
    parser.add_argument("--roots", nargs="+", help="override data.roots: folders of identity folders")
    parser.add_argument("--cropped-roots", nargs="+", default=[], help="more roots whose images are already face crops")
    parser.add_argument("--pairs", help="override data.pairs: validation pairs file (LFW format)")
    parser.add_argument("--pairs-images", help="override data.pairs_images: the folder the pairs name")
    parser.add_argument("--backbone", help="override model.backbone: tiny, mobile or vgg16")
    parser.add_argument("--width", type=float, help="override model.width: the mobile backbone's width multiplier")
    parser.add_argument("--input-size", type=int, help="override model.input_size: the input side in pixels")
    parser.add_argument("--output-stride", type=int, help="override model.output_stride: 32, or 16 (mobile)")
    parser.add_argument("--pair", help="override objectives.pair: none, contrastive or bce")
    parser.add_argument("--margin-softmax", help="override objectives.margin_softmax: none, arcface or cosface")
    parser.add_argument("--distill", type=float, help="override objectives.distill_weight")
    parser.add_argument(
        "--distill-centre",
        action="store_true",
        default=None,
        help="override objectives.distill_centre: centre the teacher's embeddings",
    )
    parser.add_argument("--labels", choices=("given", "refine"), help="override labels: given or refine")
    parser.add_argument("--start", help="override refine.start: the .keras network to refine")
    parser.add_argument("--references", help="override refine.references: a folder of identity folders")
    parser.add_argument("--captures", help="override refine.captures: a folder of unlabelled face photos")
    parser.add_argument("--rounds", type=int, help="override refine.rounds")
    parser.add_argument("--epochs", type=int, help="override training.epochs")
    parser.add_argument("--steps", type=int, help="override training.steps_per_epoch")
    parser.add_argument("--batch-identities", type=int, help="override training.identities_per_batch")
    parser.add_argument("--weight-decay", type=float, help="override training.weight_decay (AdamW, decoupled)")
    parser.add_argument("--max-minutes", type=float, help="override training.max_minutes")
    parser.add_argument("--seed", type=int, help="override training.seed")
    parser.add_argument("--cache", help="override data.cache")
    parser.add_argument("--output", help="override output folder")
    parser.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint in the output folder")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def _typed_path(value: str | None) -> str | None:
    # A path typed on the command line means one relative to where it was typed, not to the recipe.
    return str(Path(value).resolve()) if value else None


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    from .recipe import load

    roots = None
    if args.roots or args.cropped_roots:
        roots = [*(args.roots or []), *({"path": r, "cropped": True} for r in args.cropped_roots)]
    overrides = {
        "data.roots": roots,
        "data.cache": args.cache,
        "data.pairs": args.pairs,
        "data.pairs_images": args.pairs_images,
        "model.backbone": args.backbone,
        "model.width": args.width,
        "model.input_size": args.input_size,
        "model.output_stride": args.output_stride,
        "objectives.pair": args.pair,
        "objectives.margin_softmax": args.margin_softmax,
        "objectives.distill_weight": args.distill,
        "objectives.distill_centre": args.distill_centre,
        "labels": args.labels,
        "refine.start": _typed_path(args.start),
        "refine.references": _typed_path(args.references),
        "refine.captures": _typed_path(args.captures),
        "refine.rounds": args.rounds,
        "training.epochs": args.epochs,
        "training.steps_per_epoch": args.steps,
        "training.identities_per_batch": args.batch_identities,
        "training.weight_decay": args.weight_decay,
        "training.max_minutes": args.max_minutes,
        "training.seed": args.seed,
        "output": _typed_path(args.output),
    }
    try:
        recipe = load(args.config, overrides)
        if recipe["labels"] == "refine":
            from .refine_labels import refine

            path = refine(recipe, progress=not args.quiet)
        else:
            from .trainer import train

            path = train(recipe, resume=not args.fresh, progress=not args.quiet)
    except SiamfaceError as exc:
        print(f"train-model: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "train-model: interrupted; run the same command again to resume from the last checkpoint", file=sys.stderr
        )
        return 130
    print(f"wrote {path} (report and curves beside it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
