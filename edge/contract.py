"""The model contract: what an embedding ONNX file says about the input it expects, and the scores
that suit it.

Every field lives in the ONNX file's metadata_props under a ``siamface.`` key, so the runtime
hard-codes none of it and a new model needs no code change. The scores (``siamface.match.*``) are
the matching thresholds chosen for the model (siamface.export.threshold); the config's
``match.*: null`` means these.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import SiamfaceError

# Bump when crop_face/to_tensor change what a model sees: galleries and caches carry it.
# 2: face chips aligned on five landmarks (alignment "landmarks5").
PREPROCESS_VERSION = 2

PREFIX = "siamface."
CHANNELS = ("rgb", "bgr", "gray")
LAYOUTS = ("nhwc", "nchw")
# "box": the detected box grown by crop_padding; "landmarks5": a chip aligned on five landmarks found
# in the box (loop/landmarks.py, loop/align.py), crop_padding being the padding around the mean face.
ALIGNMENTS = ("box", "landmarks5")
# The config's match.* keys a model may carry a value for.
SCORES = ("threshold", "margin", "track_threshold", "stranger_threshold")


@dataclass(frozen=True)
class ModelContract:
    width: int
    height: int
    channels: str  # rgb, bgr or gray
    layout: str  # nhwc or nchw
    mean: tuple[float, ...]  # per channel, or one value for all
    std: tuple[float, ...]
    crop_padding: float  # fraction of the box (or, aligned, of the mean face) added on each side
    embedding_size: int
    preprocess_version: int = PREPROCESS_VERSION
    description: str = ""
    alignment: str = "box"
    scores: dict[str, float] = field(default_factory=dict)  # match.<key> -> the value chosen for this model

    @property
    def channel_count(self) -> int:
        return 1 if self.channels == "gray" else 3

    @property
    def box_margin(self) -> float:
        """How much the detected box is grown before cropping: aligned chips take the box as found
        (landmarks are searched inside it; the chip's own padding is in ``crop_padding``)."""
        return 0.0 if self.alignment == "landmarks5" else self.crop_padding

    def to_metadata(self) -> dict[str, str]:
        fields = {
            "input_width": str(self.width),
            "input_height": str(self.height),
            "channels": self.channels,
            "layout": self.layout,
            "mean": ",".join(repr(v) for v in self.mean),
            "std": ",".join(repr(v) for v in self.std),
            "crop_padding": repr(self.crop_padding),
            "embedding_size": str(self.embedding_size),
            "preprocess_version": str(self.preprocess_version),
            "description": self.description,
            "alignment": self.alignment,
            **{f"match.{key}": repr(value) for key, value in self.scores.items()},
        }
        return {PREFIX + key: value for key, value in fields.items()}

    @classmethod
    def from_metadata(cls, meta: dict[str, str], source: str) -> ModelContract:
        """Parse the contract; ``source`` (the model path) goes into every error."""

        def get(key: str) -> str:
            value = meta.get(PREFIX + key)
            if value is None:
                raise SiamfaceError(
                    f"{source}: metadata key {PREFIX + key} missing; not a siamface embedding model "
                    f"(see 'Model contract' in the README)"
                )
            return value

        def number(key: str, kind: type) -> int | float:
            text = get(key)
            try:
                return kind(text)
            except ValueError:
                raise SiamfaceError(f"{source}: metadata {PREFIX + key}={text!r}, expected a {kind.__name__}") from None

        def floats(key: str) -> tuple[float, ...]:
            text = get(key)
            try:
                values = tuple(float(v) for v in text.split(","))
            except ValueError:
                raise SiamfaceError(
                    f"{source}: metadata {PREFIX + key}={text!r}, expected numbers joined by commas"
                ) from None
            return values

        def choice(key: str, options: tuple[str, ...]) -> str:
            text = get(key).lower()
            if text not in options:
                raise SiamfaceError(f"{source}: metadata {PREFIX + key}={text!r}, expected one of {', '.join(options)}")
            return text

        contract = cls(
            width=int(number("input_width", int)),
            height=int(number("input_height", int)),
            channels=choice("channels", CHANNELS),
            layout=choice("layout", LAYOUTS),
            mean=floats("mean"),
            std=floats("std"),
            # "margin" is what models made before version 0.2 call the crop padding.
            crop_padding=float(number("crop_padding" if PREFIX + "crop_padding" in meta else "margin", float)),
            embedding_size=int(number("embedding_size", int)),
            preprocess_version=int(number("preprocess_version", int)),
            description=meta.get(PREFIX + "description", ""),
            alignment=choice("alignment", ALIGNMENTS) if PREFIX + "alignment" in meta else "box",
            scores={key: float(number(f"match.{key}", float)) for key in SCORES if f"{PREFIX}match.{key}" in meta},
        )
        if contract.alignment == "landmarks5" and contract.width != contract.height:
            raise SiamfaceError(
                f"{source}: metadata {PREFIX}input_width={contract.width}, input_height={contract.height}: "
                f"an aligned (landmarks5) model needs a square input"
            )
        for key, values in (("mean", contract.mean), ("std", contract.std)):
            if len(values) not in (1, contract.channel_count):
                raise SiamfaceError(
                    f"{source}: metadata {PREFIX}{key} has {len(values)} values, expected 1 or {contract.channel_count}"
                )
        if any(v == 0 for v in contract.std):
            raise SiamfaceError(f"{source}: metadata {PREFIX}std contains 0, expected non-zero scales")
        if contract.preprocess_version > PREPROCESS_VERSION:
            raise SiamfaceError(
                f"{source}: metadata {PREFIX}preprocess_version={contract.preprocess_version}, this runtime knows "
                f"versions up to {PREPROCESS_VERSION}: upgrade siamface"
            )
        return contract
