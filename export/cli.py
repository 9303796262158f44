"""export-model: a trained .keras embedding model -> a checked, quantized ONNX file for the device."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from siamface.edge.errors import SiamfaceError


def main(argv: Sequence[str] | None = None) -> int:
    from .export import Limits

    defaults = Limits()
    parser = argparse.ArgumentParser(prog="export-model", description=__doc__)
    parser.add_argument("model", type=Path, help="the embedding model.keras written by train-model")
    parser.add_argument(
        "--out", type=Path, required=True, help="the int8 ONNX file to write (report beside it as .json)"
    )
    parser.add_argument("--calibration", type=Path, required=True, help="folder of face photos for calibration")
    parser.add_argument("--calibration-count", type=int, default=300, help="photos used to calibrate (default 300)")
    parser.add_argument(
        "--calibration-views",
        type=int,
        default=1,
        help="faces from each calibration photo: its own and camera-like views of it (default 1)",
    )
    parser.add_argument("--held-out", type=int, default=100, help="faces used to check int8 against fp32 (default 100)")
    parser.add_argument(
        "--check-faces", type=Path, help="folder of the held-out faces (default: --images, else --calibration)"
    )
    parser.add_argument("--pairs", type=Path, help="pairs file (LFW format) to compare accuracies")
    parser.add_argument("--images", type=Path, help="folder the pairs name")
    parser.add_argument("--keep-fp32", action="store_true", help="also write the fp32 model as NAME.fp32.onnx")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset, 13 to 18 (default 17)")
    parser.add_argument("--min-cosine", type=float, default=defaults.int8_mean_cosine, help="int8 vs fp32 mean cosine")
    parser.add_argument("--min-p1-cosine", type=float, default=defaults.int8_p1_cosine, help="... its 1st percentile")
    parser.add_argument("--max-drop", type=float, default=defaults.max_accuracy_drop, help="accuracy drop allowed")
    parser.add_argument(
        "--flip-average",
        action="store_true",
        help="embed each face with its mirror image and sum the two (one network call of batch 2 a face)",
    )
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if args.calibration_views < 1:
        print(f"export-model: error: --calibration-views {args.calibration_views}: expected 1 or more", file=sys.stderr)
        return 2
    if (args.pairs is None) != (args.images is None):
        print("export-model: error: --pairs and --images go together", file=sys.stderr)
        return 2
    limits = Limits(
        int8_mean_cosine=args.min_cosine, int8_p1_cosine=args.min_p1_cosine, max_accuracy_drop=args.max_drop
    )
    try:
        from .export import export

        report = export(
            args.model,
            args.out,
            args.calibration,
            args.calibration_count,
            args.held_out,
            args.pairs,
            args.images,
            args.keep_fp32,
            args.opset,
            limits,
            progress=not args.quiet,
            check_faces=args.check_faces,
            flip_average=args.flip_average,
            calibration_views=args.calibration_views,
        )
    except SiamfaceError as exc:
        print(f"export-model: error: {exc}", file=sys.stderr)
        return 2
    print(
        json.dumps({k: report[k] for k in ("fp32", "int8", "latency_ms_1_thread", "accuracy") if k in report}, indent=2)
    )
    print(f"wrote {report['output']} and {Path(report['output']).with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
