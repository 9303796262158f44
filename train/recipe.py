"""The training recipe: a YAML file, validated like the device config, with flag overrides."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from siamface.edge.contract import ALIGNMENTS, ModelContract
from siamface.edge.errors import SiamfaceError

from .augment import Augmentation
from .faces import Root
from .schema import check_section

BACKBONES = ("tiny", "mobile", "vgg16")  # built in train/model.py; named here so a recipe loads without TensorFlow
PAIR_LOSSES = ("none", "contrastive", "bce")
MARGIN_SOFTMAX = ("none", "arcface", "cosface")

SCHEMA: dict[str, Any] = {
    "data": {
        "roots": ((list,), [], "a list of {path, cropped, weight} (folders of identity folders)"),
        "unlabeled": ((list,), [], "a list of folders of face photos without identities"),
        "per_identity": ((int, type(None)), None, "at most this many photos per identity, or null for all"),
        "unlabeled_limit": ((int, type(None)), None, "at most this many unlabelled photos, or null for all"),
        "pairs": ((str, type(None)), None, "a pairs file in the LFW format for validation, or null"),
        "pairs_images": ((str, type(None)), None, "the folder of identity folders the pairs name"),
        "cache": ((str, type(None)), None, "cache folder, or null for the user's cache (~/.cache/siamface)"),
    },
    "model": {
        "backbone": ((str,), "mobile", f"one of {', '.join(BACKBONES)}"),
        "width": ((float, int), 1.0, "the mobile backbone's width multiplier (alpha), e.g. 0.5 or 1.0"),
        "input_size": ((int,), 96, "the input side in pixels, at least 32"),
        "output_stride": ((int,), 32, "32, or 16 for the mobile backbone's last block at stride 1"),
        "embedding_size": ((int,), 128, "the embedding length, at least 16"),
        "channels": ((str,), "rgb", "rgb, bgr or gray"),
        "crop_padding": ((float, int), 0.2, "the padding around the Haar box (aligned: the mean face), 0 to 0.5"),
        "alignment": ((str,), "box", f"one of {', '.join(ALIGNMENTS)}"),
    },
    "objectives": {
        "pair": ((str,), "contrastive", f"one of {', '.join(PAIR_LOSSES)}"),
        "push_strangers": ((bool,), True, "true to push captures far from every reference away from the household"),
        "pair_weight": ((float, int), 1.0, "a weight of at least 0"),
        "margin_softmax": ((str,), "arcface", f"one of {', '.join(MARGIN_SOFTMAX)}"),
        "margin_softmax_weight": ((float, int), 1.0, "a weight of at least 0"),
        "distill_weight": ((float, int), 0.0, "a weight of at least 0 (above 0 needs the [teacher] extra)"),
        "distill_centre": ((bool,), False, "true to remove the mean teacher embedding from the targets"),
    },
    "training": {
        "epochs": ((int,), 10, "a whole number of at least 1"),
        "steps_per_epoch": ((int,), 200, "a whole number of at least 1"),
        "identities_per_batch": ((int,), 32, "a whole number of at least 2"),
        "photos_per_identity": ((int,), 4, "a whole number of at least 2"),
        "unlabeled_per_batch": ((int,), 0, "a whole number of at least 0"),
        "learning_rate": ((float, int), 2e-3, "a positive number"),
        "weight_decay": ((float, int), 5e-4, "a number of at least 0"),
        "max_minutes": ((float, int, type(None)), None, "stop after this many minutes of training, or null"),
        "seed": ((int,), 1, "a whole number"),
        "threads": ((int, type(None)), None, "TensorFlow threads, or null for all cores"),
    },
    "augment": {
        name: ((float, int), getattr(Augmentation(), name), "a number of at least 0")
        for name in Augmentation.__dataclass_fields__
    },
    "labels": ((str,), "given", "given (the identity folders of data.roots) or refine (see refine:)"),
    "refine": {
        "start": ((str, type(None)), None, "the .keras network to start from (train/dlib_resnet.py)"),
        "scores_from": ((str, type(None)), None, "the ONNX model whose scores label, or null: the bundled one"),
        "references": ((str, type(None)), None, "a folder of identity folders, a few photos of each person"),
        "captures": ((str, type(None)), None, "a folder of face photos without labels (any layout)"),
        "keep": ((list,), [], "more folders of faces (anyone) whose embeddings must not change"),
        "keep_limit": ((int,), 1000, "at most this many of those faces, spread over them"),
        "truth_from_folders": ((bool,), False, "true if each capture's folder names who it is (to measure)"),
        "rounds": ((int,), 3, "a whole number of at least 1"),
        "steps": ((int,), 150, "training steps a round, a whole number of at least 1"),
        "learning_rate": ((float, int), 1e-4, "a positive number"),
        "threshold": ((float, int, type(None)), None, "the score a label needs, or null: match.threshold"),
        "margin": ((float, int, type(None)), None, "its lead over the next person, or null: match.margin"),
        "pair_gap": ((float, int), 0.03, "different people are pushed this far below the threshold, 0 to 0.5"),
        "push_strangers": ((bool,), True, "true to push captures far from every reference away from the household"),
        "pair_weight": ((float, int), 1.0, "a weight of at least 0"),
        "distill_weight": ((float, int), 1.0, "a weight above 0"),
        "distill_per_batch": ((int,), 64, "faces of anyone a step keeps near the starting embedding, at least 1"),
    },
    "output": ((str,), "runs/model", "the output folder"),
}

RANGES = {
    "model.backbone": lambda v: v in BACKBONES,
    "model.width": lambda v: 0.1 <= v <= 2.0,
    "model.input_size": lambda v: v >= 32,
    "model.output_stride": lambda v: v in (16, 32),
    "model.embedding_size": lambda v: v >= 16,
    "model.channels": lambda v: v in ("rgb", "bgr", "gray"),
    "model.crop_padding": lambda v: 0 <= v <= 0.5,
    "model.alignment": lambda v: v in ALIGNMENTS,
    "objectives.pair": lambda v: v in PAIR_LOSSES,
    "objectives.margin_softmax": lambda v: v in MARGIN_SOFTMAX,
    "objectives.pair_weight": lambda v: v >= 0,
    "objectives.margin_softmax_weight": lambda v: v >= 0,
    "objectives.distill_weight": lambda v: v >= 0,
    "training.epochs": lambda v: v >= 1,
    "training.steps_per_epoch": lambda v: v >= 1,
    "training.identities_per_batch": lambda v: v >= 2,
    "training.photos_per_identity": lambda v: v >= 2,
    "training.unlabeled_per_batch": lambda v: v >= 0,
    "training.learning_rate": lambda v: v > 0,
    "training.weight_decay": lambda v: v >= 0,
    "training.max_minutes": lambda v: v > 0,
    "training.threads": lambda v: v >= 1,
    **{f"augment.{name}": (lambda v: v >= 0) for name in Augmentation.__dataclass_fields__},
    "labels": lambda v: v in ("given", "refine"),
    "refine.rounds": lambda v: v >= 1,
    "refine.keep_limit": lambda v: v >= 1,
    "refine.steps": lambda v: v >= 1,
    "refine.learning_rate": lambda v: v > 0,
    "refine.threshold": lambda v: -1 <= v <= 1,
    "refine.margin": lambda v: 0 <= v <= 1,
    "refine.pair_gap": lambda v: 0 <= v <= 0.5,
    "refine.pair_weight": lambda v: v >= 0,
    "refine.distill_weight": lambda v: v > 0,
    "refine.distill_per_batch": lambda v: v >= 1,
}


@dataclass
class Recipe:
    source: str  # where it came from, for messages and the report
    values: dict[str, Any]  # flattened "section.key" -> value, as validated
    roots: list[Root] = field(default_factory=list)
    unlabeled: list[Root] = field(default_factory=list)

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def contract(self) -> ModelContract:
        size, channels = self["model.input_size"], self["model.channels"]
        return ModelContract(
            width=size,
            height=size,
            channels=channels,
            layout="nhwc",
            mean=(127.5,),
            std=(128.0,),
            crop_padding=float(self["model.crop_padding"]),
            embedding_size=self["model.embedding_size"],
            description=f"siamface {self['model.backbone']} {size}px, trained by train-model",
            alignment=self["model.alignment"],
        )

    def augmentation(self) -> Augmentation:
        return Augmentation(**{name: float(self[f"augment.{name}"]) for name in Augmentation.__dataclass_fields__})

    def path(self, key: str) -> Path | None:
        value = self[key]
        return None if value is None else self.resolve(value)

    def resolve(self, value: str) -> Path:
        path = Path(value).expanduser()
        base = Path(self.source).parent if Path(self.source).is_file() else Path.cwd()
        return path if path.is_absolute() else base / path


def _roots(entries: list, key: str, where: str, recipe: Recipe) -> list[Root]:
    roots = []
    for i, entry in enumerate(entries):
        if isinstance(entry, str):
            entry = {"path": entry}
        if not isinstance(entry, dict) or "path" not in entry or set(entry) - {"path", "cropped", "weight"}:
            raise SiamfaceError(f"{where}: {key}[{i}]={entry!r}, expected a path or {{path, cropped, weight}}")
        path = recipe.resolve(str(entry["path"]))
        if not path.is_dir():
            raise SiamfaceError(f"{where}: {key}[{i}].path={entry['path']!r}: no such folder")
        roots.append(Root(path, bool(entry.get("cropped", False)), float(entry.get("weight", 1.0))))
    return roots


def parse(data: Any, source: str, overrides: dict[str, Any] | None = None) -> Recipe:
    """Validate ``data`` (the YAML) with ``overrides`` ("section.key" -> value) applied on top."""
    data = dict(data or {})
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        section, _, name = key.partition(".")
        if name:
            data[section] = {**(data.get(section) or {}), name: value}
        else:
            data[section] = value
    recipe = Recipe(source, check_section(data, SCHEMA, "", source, RANGES))
    recipe.roots = _roots(recipe["data.roots"], "data.roots", source, recipe)
    recipe.unlabeled = _roots(recipe["data.unlabeled"], "data.unlabeled", source, recipe)
    if recipe["labels"] == "refine":
        for key in ("refine.start", "refine.references", "refine.captures"):
            if recipe[key] is None:
                raise SiamfaceError(f"{source}: {key} is missing, expected a path (labels: refine needs it)")
        if not recipe.path("refine.start").is_file():
            start = recipe["refine.start"]
            raise SiamfaceError(f"{source}: refine.start={start!r}: no such file, expected a .keras model")
        return recipe
    if not recipe.roots:
        raise SiamfaceError(f"{source}: data.roots is empty, expected at least one folder of identity folders")
    if (recipe["data.pairs"] is None) != (recipe["data.pairs_images"] is None):
        raise SiamfaceError(f"{source}: data.pairs and data.pairs_images go together: give both or neither")
    objectives = (recipe["objectives.pair"], recipe["objectives.margin_softmax"], recipe["objectives.distill_weight"])
    if objectives == ("none", "none", 0):
        raise SiamfaceError(f"{source}: objectives: all off, expected a pair loss, a margin softmax or distillation")
    backbone = recipe["model.backbone"]
    if recipe["model.output_stride"] != 32 and backbone != "mobile":
        raise SiamfaceError(f"{source}: model.output_stride 16 is for the mobile backbone, not {backbone}")
    if recipe["training.unlabeled_per_batch"] and not recipe["objectives.distill_weight"]:
        raise SiamfaceError(f"{source}: training.unlabeled_per_batch needs objectives.distill_weight above 0")
    return recipe


def load(path: str | Path | None, overrides: dict[str, Any] | None = None) -> Recipe:
    if path is None:
        return parse({}, "command line", overrides)
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SiamfaceError(f"{path}: recipe file not found") from None
    except yaml.YAMLError as exc:
        raise SiamfaceError(f"{path}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    return parse(data, str(path.absolute()), overrides)
