"""The .keras file of the embedding model, with the preprocessing contract it was trained with.

The contract travels inside the .keras zip as ``siamface.json``; Keras ignores extra members, and
export-model reads it to write the ONNX metadata.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from pathlib import Path

from siamface.edge.contract import ModelContract
from siamface.edge.errors import SiamfaceError

MEMBER = "siamface.json"


def save_embedding_model(model, contract: ModelContract, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".keras", delete=False) as handle:
        tmp = Path(handle.name)
    try:
        model.save(tmp)
        with zipfile.ZipFile(tmp, "a") as archive:
            archive.writestr(MEMBER, json.dumps(contract.to_metadata(), indent=2))
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def write_run(out: Path, recipe, contract: ModelContract, model, similarity, report: dict) -> None:
    """A run's results beside each other: the embedding model, the similarity model and report.json
    (what made them first, then ``report``)."""
    from siamface.edge.atomic import write_text_atomically

    save_embedding_model(model, contract, out / "model.keras")
    similarity.save(out / "similarity.keras")
    report = {"recipe": recipe.values, "recipe_file": recipe.source, "contract": contract.to_metadata(), **report}
    write_text_atomically(out / "report.json", json.dumps(report, indent=2, default=str))


def read_contract(path: Path) -> ModelContract:
    try:
        with zipfile.ZipFile(path) as archive:
            meta = json.loads(archive.read(MEMBER))
    except FileNotFoundError:
        raise SiamfaceError(f"{path}: model file not found") from None
    except (zipfile.BadZipFile, KeyError):
        raise SiamfaceError(f"{path}: not an embedding model made by train-model (no {MEMBER} inside)") from None
    return ModelContract.from_metadata(meta, str(path))


def load_embedding_model(path: Path):
    import keras

    from . import model  # noqa: F401  (registers the custom layers Keras must find when loading)

    contract = read_contract(path)
    return keras.saving.load_model(path, compile=False), contract
