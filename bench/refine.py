"""Does train-model's label refinement name a household better, at the same false-accept rate,
without losing everyone else?

    python -m bench.refine --start runs/default-model/model.keras --keep ../shared/data/public_domain/congress \
        [--seeds 5] [--rounds 3] [--set KEY=VALUE ...] [--json FILE]

A household made of dev people (none of them in any training data): per seed, 20 dev identities
are the household, one reference photo each; their other photos less 3 held out per person, mixed
with every photo of 20 other dev people (visitors), are the captures; the last 20 dev people are
never seen and measure everything else. train-model (labels: refine) runs on the references and
captures, and the starting network and the refined one are compared on
- the held-out photos: named rightly against a gallery of the references (the device's rule:
  best person at or above the threshold and ahead of the next by the margin);
- the unseen people's photos, and the visitors' (seen unlabelled), named as anyone;
- the dev pairs between unseen people (10-fold accuracy).
The refined network's threshold is the one at which it accepts as many different-person pairs of
the unseen people as the starting network does at the bundled model's threshold: the same
false-accept rate.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path

import numpy as np
import yaml

from siamface.edge.evaluation.lfw_metrics import kfold_accuracy
from siamface.edge.evaluation.pairs import image_path, read_pairs
from siamface.edge.loop.embed import l2_normalize
from siamface.edge.loop.preprocess import to_tensor
from siamface.train.cache import cache_root
from siamface.train.recipe import parse
from siamface.train.refine_labels import load_photos, model_scores, nearest_labels, refine

from .frames import DATA

HELD_OUT = 3


def split(names: list[str], photos: dict[str, list[str]], seed: int) -> dict:
    """Household, visitors and unseen people, the household's reference and held-out photos."""
    rng = np.random.default_rng(seed)
    eligible = [n for n in names if len(photos[n]) >= 2 + HELD_OUT]
    order = [eligible[i] for i in rng.permutation(len(eligible))]
    household, visitors = order[:20], order[20:40]
    unseen = [n for n in names if n not in household and n not in visitors]
    return {
        "household": household,
        "visitors": visitors,
        "unseen": unseen,
        "reference": {n: photos[n][0] for n in household},
        "held_out": {n: photos[n][-HELD_OUT:] for n in household},
        "captures": {
            **{n: photos[n][1:-HELD_OUT] for n in household},
            **{n: photos[n] for n in visitors},
        },
    }


def link(folder: Path, files: dict[str, list[str]]) -> Path:
    for name, paths in files.items():
        (folder / name).mkdir(parents=True, exist_ok=True)
        for path in paths:
            (folder / name / Path(path).name).symlink_to(path)
    return folder


def named(probes: np.ndarray, gallery: np.ndarray, ids: np.ndarray, threshold: float, margin: float) -> np.ndarray:
    return nearest_labels(probes, gallery, ids, threshold, margin)[0]


def unseen_pairs(s: dict, pairs) -> tuple[list[tuple[str, str]], np.ndarray, np.ndarray]:
    """The dev pairs between unseen people whose photos both have a face: paths, same?, folds."""
    found, same, folds = [], [], []
    for pair in pairs:
        a, b = (str(image_path(DATA / "dev" / "celeba", *side)) for side in (pair.first, pair.second))
        if {pair.first[0], pair.second[0]} <= set(s["unseen"]) and a in s["index"] and b in s["index"]:
            found.append((a, b))
            same.append(pair.same)
            folds.append(pair.fold)
    return found, np.array(same), np.array(folds)


def measure(embed, chips_of, s: dict, pairs, margin: float, threshold: float | None, far: float | None) -> dict:
    """The figures of one network at ``threshold``, or at the threshold that gives the false-accept
    rate ``far`` on the unseen people's different-person pairs."""
    household = s["household"]
    gallery = embed(chips_of([s["reference"][n] for n in household]))
    ids = np.arange(len(household))
    held = [(i, p) for i, n in enumerate(household) for p in s["held_out"][n]]
    held_emb = embed(chips_of([p for _, p in held]))
    truth = np.array([i for i, _ in held])
    unseen_emb = embed(chips_of([p for n in s["unseen"] for p in s["photos"][n]]))
    owner = np.array([n for n in s["unseen"] for _ in s["photos"][n]])
    impostors = (unseen_emb @ unseen_emb.T)[np.triu(owner[:, None] != owner[None, :], 1)]
    if threshold is None:
        ranked = np.sort(impostors)[::-1]
        threshold = float(np.nextafter(ranked[int(np.floor(far * len(ranked)))], np.float32(np.inf)))
    visitors_emb = embed(chips_of([p for n in s["visitors"] for p in s["photos"][n]]))
    held_named = named(held_emb, gallery, ids, threshold, margin)
    paths, same, folds = unseen_pairs(s, pairs)
    firsts, seconds = embed(chips_of([a for a, _ in paths])), embed(chips_of([b for _, b in paths]))
    accuracy = kfold_accuracy((firsts * seconds).sum(axis=1), same, folds)
    return {
        "threshold": threshold,
        "false_accept_rate": float(np.mean(impostors >= threshold)),
        "held_out_named": float(np.mean(held_named == truth)),
        "held_out_misnamed": float(np.mean((held_named != truth) & (held_named >= 0))),
        "unseen_named": float(np.mean(named(unseen_emb, gallery, ids, threshold, margin) >= 0)),
        "visitors_named": float(np.mean(named(visitors_emb, gallery, ids, threshold, margin) >= 0)),
        "unseen_pairs_accuracy": accuracy.accuracy,
        "unseen_pairs": float(len(paths)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.refine", description=__doc__.splitlines()[0])
    parser.add_argument("--start", type=Path, required=True, help="the bundled model's network (.keras)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, help="training steps a round (default: the recipe's)")
    parser.add_argument("--keep", nargs="*", default=[], help="refine.keep: more faces to keep as they were")
    parser.add_argument(
        "--set", nargs="*", default=[], metavar="KEY=VALUE", help="more refine: settings, e.g. distill_weight=5"
    )
    parser.add_argument("--out", type=Path, help="keep each seed's refined network here (default: a temporary folder)")
    parser.add_argument("--json", type=argparse.FileType("w"))
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(message)s")
    import keras

    from siamface.train.modelfile import load_embedding_model

    dev = DATA / "dev" / "celeba"
    if not dev.is_dir():
        raise SystemExit(f"benchmark data {dev} not found: set SIAMFACE_DATA to the face data folder")
    start, contract = load_embedding_model(args.start)
    everyone = load_photos(dev, contract, cache_root() / "refine", "dev")
    index = {p: i for i, p in enumerate(everyone.paths)}
    photos: dict[str, list[str]] = {}
    for path, folder in zip(everyone.paths, everyone.folders):
        photos.setdefault(folder, []).append(path)
    names = sorted(photos)
    pairs = read_pairs(DATA / "dev" / "pairs.txt")
    scores = model_scores(None)
    shipped, margin = scores["threshold"], scores["margin"]

    def chips_of(paths: list[str]) -> np.ndarray:
        return everyone.chips[[index[p] for p in paths]]

    def embedder(model):
        return lambda chips: l2_normalize(
            np.asarray(model.predict(to_tensor(chips, contract), batch_size=64, verbose=0))
        )

    results = []
    for seed in range(args.seeds):
        s = {**split(names, photos, seed), "photos": photos, "index": index}
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            out = args.out / f"seed{seed}" if args.out else tmp / "out"
            values = {
                "labels": "refine",
                "refine": {
                    "start": str(args.start.resolve()),
                    "references": str(link(tmp / "refs", {n: [s["reference"][n]] for n in s["household"]})),
                    "captures": str(link(tmp / "captures", s["captures"])),
                    "truth_from_folders": True,
                    "rounds": args.rounds,
                    "keep": [str(Path(k).resolve()) for k in args.keep],
                    **({"steps": args.steps} if args.steps else {}),
                    **{k: yaml.safe_load(v) for k, v in (item.split("=", 1) for item in args.set)},
                },
                "training": {"seed": seed},
                "output": str(out),
            }
            model_path = refine(parse(values, f"bench.refine seed {seed}"), progress=True)
            report = json.loads((model_path.parent / "report.json").read_text())
            refined, _ = load_embedding_model(model_path)
        before = measure(embedder(start), chips_of, s, pairs, margin, shipped, None)
        after = measure(embedder(refined), chips_of, s, pairs, margin, None, before["false_accept_rate"])
        keras.backend.clear_session()
        results.append({"seed": seed, "rounds": report["rounds"], "before": before, "after": after})
        print(f"seed {seed}: labels per round (labelled, precision, recall):")
        for row in report["rounds"]:
            print(f"  round {row['round']}: {row['labelled']:4d}  {row['precision']:.3f}  {row['recall']:.3f}")
        for key in before:
            print(f"  {key:22s} start {before[key]:.4f}  refined {after[key]:.4f}")
    print(f"{args.seeds} seeds: mean ± spread (start → refined)")
    for key in results[0]["before"]:
        b = np.array([r["before"][key] for r in results])
        a = np.array([r["after"][key] for r in results])
        d = a - b
        change = f"change {d.mean():+.4f} ± {d.std():.4f}"
        print(f"  {key:22s} {b.mean():.4f} ± {b.std():.4f} → {a.mean():.4f} ± {a.std():.4f}  ({change})")
    if args.json:
        json.dump(results, args.json, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
