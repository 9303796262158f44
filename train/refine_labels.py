"""Iterative label refinement: teach the network a household from a few reference photos and many
unlabelled captures (the seed project's plan).

Each round embeds the captures with the current network, gives each the identity of its nearest
reference when the score passes the threshold and beats the next identity by the margin (else it
stays unlabelled), and fine-tunes on the references and the labelled captures: the pair loss, the
similarity model beside it, and distillation to the starting network's embedding of every face,
so that it does not forget everyone else. Labels are made afresh each round, so a wrong one can be
undone.

Only the network's deep end is trained, from its first factorised layer on (as ``lowrank.refine``):
the layers before it stay the starting network's, so their output is computed once per face (and
its mirror image), and a round costs seconds, not hours.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from siamface.edge.atomic import write_atomically
from siamface.edge.contract import PREPROCESS_VERSION, ModelContract
from siamface.edge.errors import SiamfaceError
from siamface.edge.images import read_image
from siamface.edge.loop.detect import make_detector, photo_faces, portrait_face
from siamface.edge.loop.embed import l2_normalize
from siamface.edge.loop.preprocess import crop_face, to_tensor

from .cache import cache_key, cache_root, file_stamps
from .faces import list_photos
from .recipe import Recipe

log = logging.getLogger(__name__)

UNLABELLED = -1
STRANGER = -2  # a capture far from every reference: someone else, whoever they are


@dataclass
class Photos:
    """Face chips of a folder's photos, in the model's colour and size."""

    chips: np.ndarray  # (N, H, W, C) uint8
    paths: list[str]
    folders: list[str]  # the folder each photo sits in: the identity, for references (and known truth)
    no_face: int  # photos skipped: unreadable, or no single face stood out


def load_photos(
    root: Path, contract: ModelContract, cache: Path, what: str, progress: bool = True, limit: int | None = None
) -> Photos:
    """Chips of the face in each photo under ``root`` (at most ``limit`` photos, spread over them),
    found and cut as enrolment finds and cuts them; cached by the photos' content and the contract."""
    if not root.is_dir():
        raise SiamfaceError(f"{what} {root}: no such folder (expected a folder of face photos)")
    paths = [path for _, path in list_photos(root, labelled=False)]
    if not paths:
        raise SiamfaceError(f"{what} {root}: no images found (expected face photos)")
    if limit and len(paths) > limit:
        paths = [paths[i] for i in np.linspace(0, len(paths) - 1, limit).round().astype(int)]
    key = cache_key("refine-chips-1", PREPROCESS_VERSION, contract.to_metadata(), file_stamps(paths))
    file = cache / f"{key}.npz"
    if file.exists():
        with np.load(file, allow_pickle=False) as data:
            kept = [str(p) for p in data["paths"]]
            return Photos(data["chips"], kept, [Path(p).parent.name for p in kept], int(data["no_face"]))
    detector, chips, kept = make_detector(), [], []
    for path in tqdm(paths, desc=f"faces in {root.name}", unit="photo", disable=not progress):
        try:
            image = read_image(path)
        except SiamfaceError as error:  # one unreadable snapshot among thousands is skipped, and said
            log.warning("skipped: %s", error)
            continue
        box = portrait_face(photo_faces(detector, image))
        if box is not None:
            chips.append(crop_face(image, box, contract))
            kept.append(str(path))
    shape = (0, contract.height, contract.width, contract.channel_count)
    array = np.stack(chips) if chips else np.zeros(shape, np.uint8)
    cache.mkdir(parents=True, exist_ok=True)
    no_face = len(paths) - len(kept)
    write_atomically(file, lambda h: np.savez(h, chips=array, paths=np.array(kept), no_face=no_face))
    return Photos(array, kept, [Path(p).parent.name for p in kept], no_face)


def nearest_labels(
    captures: np.ndarray, references: np.ndarray, reference_ids: np.ndarray, threshold: float, margin: float
) -> tuple[np.ndarray, np.ndarray]:
    """Each capture's identity (index into the references' ids, or UNLABELLED) and its score: the
    best identity by its most similar reference, when that passes ``threshold`` and beats the next
    identity by ``margin``, as the device names a face."""
    count = int(reference_ids.max()) + 1
    sims = l2_normalize(captures) @ l2_normalize(references).T
    per_identity = np.full((len(captures), count), -1.0, np.float32)
    for identity in range(count):
        per_identity[:, identity] = sims[:, reference_ids == identity].max(axis=1)
    order = np.argsort(-per_identity, axis=1)
    best = per_identity[np.arange(len(captures)), order[:, 0]]
    second = per_identity[np.arange(len(captures)), order[:, 1]] if count > 1 else np.full(len(captures), -1.0)
    labels = np.where((best >= threshold) & (best - second >= margin), order[:, 0], UNLABELLED)
    return labels, best


def label_quality(labels: np.ndarray, truth: np.ndarray) -> dict[str, float | int]:
    """Labels against the truth (an identity index, or UNLABELLED for a stranger): precision is the
    share of given labels that are right, recall the share of the identities' captures rightly labelled."""
    given = labels != UNLABELLED
    right = given & (labels == truth)
    members = truth != UNLABELLED
    return {
        "labelled": int(given.sum()),
        "right": int(right.sum()),
        "precision": float(right.sum() / max(given.sum(), 1)),
        "recall": float(right.sum() / max(members.sum(), 1)),
        "strangers_labelled": int((given & ~members).sum()),
    }


def household_pairs(labels):
    """(same-person, different-person) masks over a batch's (i, j) pairs, i < j: members of the
    same identity are the same person; two identities, or an identity and a stranger, are not.
    Two strangers are neither: they may well be one visitor."""
    import tensorflow as tf

    member = labels >= 0
    stranger = tf.equal(labels, STRANGER)
    size = tf.shape(labels)[0]
    upper = tf.linalg.band_part(tf.ones((size, size), tf.bool), 0, -1) & ~tf.eye(size, dtype=tf.bool)
    same = tf.equal(labels[:, None], labels[None, :])
    members = member[:, None] & member[None, :]
    apart = (member[:, None] & stranger[None, :]) | (stranger[:, None] & member[None, :])
    return upper & members & same, upper & ((members & ~same) | apart)


def split_at_factorised(model):
    """(layers kept, layers trained): the network cut at its first factorised layer."""
    import keras

    factored = [layer for layer in model.layers if isinstance(layer, keras.Sequential)]
    if not factored:
        raise SiamfaceError(
            "refine.start: the model has no factorised layer, expected the network made by "
            "python -m siamface.train.dlib_resnet (train/make_default_model.sh)"
        )
    start = factored[0].input
    return keras.Model(model.input, start), keras.Model(start, model.output)


def model_scores(path: Path | None) -> dict[str, float]:
    """The naming scores written into an ONNX model's metadata (the bundled one by default)."""
    from siamface.edge.loop.embed import DEFAULT_MODEL, Embedder

    # The device's own reader: the same one-line errors for a missing or broken file.
    return Embedder(path or DEFAULT_MODEL).contract.scores


def refine(recipe: Recipe, progress: bool = True) -> Path:
    """Run the rounds of ``recipe`` (labels: refine); write model.keras, similarity.keras,
    report.json and rounds.png to its output folder; return the model's path."""
    import keras
    import tensorflow as tf

    from . import losses
    from .model import similarity_model
    from .modelfile import load_embedding_model, write_run
    from .plots import refine_rounds

    started = time.perf_counter()
    if recipe["training.threads"]:
        tf.config.threading.set_intra_op_parallelism_threads(recipe["training.threads"])
        tf.config.threading.set_inter_op_parallelism_threads(1)
    seed = recipe["training.seed"]
    keras.utils.set_random_seed(seed)
    out = recipe.resolve(recipe["output"])
    out.mkdir(parents=True, exist_ok=True)
    cache = cache_root(recipe["data.cache"]) / "refine"
    model, contract = load_embedding_model(recipe.path("refine.start"))
    scores = model_scores(recipe.path("refine.scores_from"))
    used = {}
    for key in ("threshold", "margin"):
        used[key] = recipe[f"refine.{key}"] if recipe[f"refine.{key}"] is not None else scores.get(key)
        if used[key] is None:
            raise SiamfaceError(
                f"{recipe.source}: refine.{key} is null and the model named by refine.scores_from has no "
                f"match.{key}, expected a number"
            )
    threshold, margin = float(used["threshold"]), float(used["margin"])

    references = load_photos(recipe.path("refine.references"), contract, cache, "refine.references", progress)
    captures = load_photos(recipe.path("refine.captures"), contract, cache, "refine.captures", progress)
    keep = [
        load_photos(recipe.resolve(p), contract, cache, "refine.keep", progress, recipe["refine.keep_limit"])
        for p in recipe["refine.keep"]
    ]
    names = sorted(set(references.folders))
    if len(names) < 2 or len(references.paths) == 0:
        raise SiamfaceError(
            f"refine.references {recipe['refine.references']}: {len(names)} identity folder(s) with a face, "
            "expected at least two"
        )
    ref_ids = np.array([names.index(f) for f in references.folders])
    truth = None
    if recipe["refine.truth_from_folders"]:
        truth = np.array([names.index(f) if f in names else UNLABELLED for f in captures.folders])

    early, deep = split_at_factorised(model)

    def features(chips: np.ndarray) -> np.ndarray:
        """The kept layers' output on the chips and on their mirror images: (N, 2, ...)."""
        if len(chips) == 0:
            return np.zeros((0, 2, *early.output.shape[1:]), np.float32)
        x = to_tensor(chips, contract)
        both = [early.predict(x, batch_size=64, verbose=0), early.predict(x[:, :, ::-1], batch_size=64, verbose=0)]
        return np.stack(both, axis=1)

    log.info("the kept layers' output on %d references, %d captures", len(references.paths), len(captures.paths))
    ref_x, cap_x = features(references.chips), features(captures.chips)
    keep_x = np.concatenate([features(k.chips) for k in keep]) if keep else cap_x[:0]
    everyone = np.concatenate([ref_x, cap_x, keep_x])

    def embed(x: np.ndarray, view: int = 0) -> np.ndarray:
        """Embeddings of one view (0: as photographed, 1: mirrored) of faces given as features."""
        if len(x) == 0:
            return np.zeros((0, contract.embedding_size), np.float32)
        return l2_normalize(np.asarray(deep.predict(x[:, view], batch_size=128, verbose=0)))

    # The starting network's embedding of every face, the distillation's target.
    targets = np.stack([embed(everyone, 0), embed(everyone, 1)], axis=1)
    similarity = similarity_model(contract.embedding_size)
    optimizer = keras.optimizers.Adam(float(recipe["refine.learning_rate"]))
    variables = deep.trainable_variables + similarity.trainable_variables
    optimizer.build(variables)
    low, high = threshold - float(recipe["refine.pair_gap"]), threshold + float(recipe["refine.pair_gap"])
    w_pair, w_distill = float(recipe["refine.pair_weight"]), float(recipe["refine.distill_weight"])

    @tf.function(reduce_retracing=True)
    def step(x, labels, target, has):
        with tf.GradientTape() as tape:
            emb = tf.math.l2_normalize(deep(x, training=True), axis=1)
            sims = tf.matmul(emb, emb, transpose_b=True)
            positive, negative = household_pairs(labels)
            hard = losses.hard_negatives(sims, positive, negative)
            pair = w_pair * losses.band(sims, positive, hard, low, high)
            # The similarity model learns beside the embedding, detached: it does not steer it.
            chosen = tf.where(tf.logical_or(positive, negative))
            same = tf.cast(tf.gather_nd(positive, chosen), tf.float32)
            ea = tf.stop_gradient(tf.gather(emb, chosen[:, 0]))
            eb = tf.stop_gradient(tf.gather(emb, chosen[:, 1]))
            similar = losses.balanced_bce(same, similarity([ea, eb], training=True)[:, 0])
            distill = w_distill * losses.distillation(emb, target, has)
            total = pair + similar + distill
        optimizer.apply(tape.gradient(total, variables), variables)
        return total, pair, similar, distill

    per_batch = recipe["training.identities_per_batch"]
    photos = recipe["training.photos_per_identity"]
    distilled = recipe["refine.distill_per_batch"]
    rounds, history = recipe["refine.rounds"], []
    rng = np.random.default_rng(seed)
    for number in range(rounds + 1):
        cap_emb = embed(cap_x)
        labels, best = nearest_labels(cap_emb, embed(ref_x), ref_ids, threshold, margin)
        strangers = np.flatnonzero(best < low) if recipe["refine.push_strangers"] else np.zeros(0, int)
        row: dict = {
            "round": number,
            "captures": len(labels),
            "labelled": int((labels != UNLABELLED).sum()),
            "far_from_all": len(strangers),
        }
        if truth is not None:
            row.update(label_quality(labels, truth))
        history.append(row)
        log.info("round %d: %s", number, ", ".join(f"{k} {v:.3g}" for k, v in row.items()))
        if number == rounds:
            break  # the last labelling only measures the finished network
        given = np.flatnonzero(labels != UNLABELLED)
        pool_x = np.concatenate([ref_x, cap_x[given]])
        pool_ids = np.concatenate([ref_ids, labels[given]])
        pool_targets = np.concatenate([targets[: len(ref_x)], targets[len(ref_x) + given]])
        by_identity = [np.flatnonzero(pool_ids == i) for i in range(len(names))]
        sums = np.zeros(4)
        steps = recipe["refine.steps"]
        for _ in tqdm(range(steps), desc=f"round {number + 1} of {rounds}", unit="step", disable=not progress):
            chosen = rng.choice(len(names), size=min(per_batch, len(names)), replace=False)
            rows = np.concatenate(
                [rng.choice(by_identity[i], photos, replace=len(by_identity[i]) < photos) for i in chosen]
            )
            others = rng.choice(strangers, size=min(len(strangers), per_batch), replace=False)
            extra = rng.choice(len(everyone), size=distilled, replace=False)
            flips = [rng.integers(0, 2, len(r)) for r in (rows, others, extra)]
            x = np.concatenate([pool_x[rows, flips[0]], cap_x[others, flips[1]], everyone[extra, flips[2]]])
            t = np.concatenate(
                [pool_targets[rows, flips[0]], targets[len(ref_x) + others, flips[1]], targets[extra, flips[2]]]
            )
            y = np.concatenate(
                [pool_ids[rows], np.full(len(others), STRANGER), np.full(len(extra), UNLABELLED)]
            ).astype(np.int32)
            parts = step(tf.constant(x), tf.constant(y), tf.constant(t), tf.ones(len(y), tf.bool))
            sums += [float(p) for p in parts]
        history[-1].update(dict(zip(("loss", "pair", "similarity", "distill"), (sums / steps).tolist())))
    report = {
        "threshold": threshold,
        "margin": margin,
        "references": len(references.paths),
        "identities": names,
        "no_face": {"references": references.no_face, "captures": captures.no_face},
        "keep_faces": len(keep_x),
        "rounds": history,
        "wall_minutes": (time.perf_counter() - started) / 60,
    }
    write_run(out, recipe, contract, model, similarity, report)
    refine_rounds(history, out / "rounds.png")
    return out / "model.keras"
