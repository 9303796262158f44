"""The training loop: balanced identity batches, combinable objectives, validation every epoch,
checkpoints that a later run resumes from, a JSON report and PNG curves beside the model."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from siamface.edge.atomic import write_atomically
from siamface.edge.loop.preprocess import to_tensor

from .augment import augment
from .cache import cache_root
from .faces import FaceSet, load_faces
from .recipe import Recipe

log = logging.getLogger(__name__)


@dataclass
class Batches:
    """Each step: P identities x K photos (balanced same/different pairs), plus U unlabelled faces."""

    faces: FaceSet
    unlabeled: FaceSet | None
    identities: int
    photos: int
    unlabeled_count: int

    def __post_init__(self) -> None:
        labels = self.faces.labels
        self.rows = [np.flatnonzero(labels == i) for i in range(len(self.faces.identities))]
        weight = np.array([self.faces.sample_weight[r].max() for r in self.rows])
        self.identity_p = weight / weight.sum()

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        chosen = rng.choice(len(self.rows), size=self.identities, replace=False, p=self.identity_p)
        rows = [rng.choice(self.rows[i], size=self.photos, replace=len(self.rows[i]) < self.photos) for i in chosen]
        picked = np.concatenate(rows)
        if self.unlabeled is not None and self.unlabeled_count:
            extra = rng.choice(len(self.unlabeled.labels), size=self.unlabeled_count, replace=False)
            return np.concatenate([picked, len(self.faces.labels) + extra])
        return picked


def _teacher_targets(
    recipe: Recipe, faces: FaceSet, roots, labelled: bool, cache: Path
) -> tuple[np.ndarray, np.ndarray]:
    from .teacher import DIMS, teacher_embeddings

    table: dict[str, np.ndarray] = {}
    for root in roots:
        per_identity = recipe["data.per_identity" if labelled else "data.unlabeled_limit"]
        table.update(teacher_embeddings(root, cache / "teacher", labelled, per_identity))
    targets = np.zeros((len(faces.paths), DIMS), np.float32)
    has = np.zeros(len(faces.paths), bool)
    for i, path in enumerate(faces.paths):
        if path in table:
            targets[i], has[i] = table[path], True
    return targets, has


def train(recipe: Recipe, resume: bool = True, progress: bool = True) -> Path:
    import keras
    import tensorflow as tf

    from . import losses
    from .model import embedding_model, similarity_model
    from .validate import embed, load_pairs

    started = time.perf_counter()
    if recipe["training.threads"]:
        tf.config.threading.set_intra_op_parallelism_threads(recipe["training.threads"])
        tf.config.threading.set_inter_op_parallelism_threads(1)
    keras.utils.set_random_seed(recipe["training.seed"])
    contract = recipe.contract()
    out = recipe.resolve(recipe["output"])
    out.mkdir(parents=True, exist_ok=True)
    cache = cache_root(recipe["data.cache"])

    faces = load_faces(
        recipe.roots, contract, cache / "faces", per_identity=recipe["data.per_identity"], progress=progress
    )
    unlabeled = None
    if recipe.unlabeled and recipe["training.unlabeled_per_batch"]:
        unlabeled = load_faces(
            recipe.unlabeled,
            contract,
            cache / "faces",
            labelled=False,
            per_identity=recipe["data.unlabeled_limit"],
            progress=progress,
        )
    distill = recipe["objectives.distill_weight"] > 0
    if distill:
        targets, has_target = _teacher_targets(recipe, faces, recipe.roots, True, cache)
        if unlabeled is not None:
            u_targets, u_has = _teacher_targets(recipe, unlabeled, recipe.unlabeled, False, cache)
            targets, has_target = np.concatenate([targets, u_targets]), np.concatenate([has_target, u_has])
        if recipe["objectives.distill_centre"]:
            # dlib's descriptors share a large common direction (cosine about 0.8 between different
            # people), which raw targets make the student learn first; centred, strangers sit near 0.
            targets[has_target] -= targets[has_target].mean(axis=0)
            targets[has_target] /= np.linalg.norm(targets[has_target], axis=1, keepdims=True)
        log.info("teacher targets for %d of %d faces", has_target.sum(), len(has_target))
    all_crops = faces.crops if unlabeled is None else np.concatenate([faces.crops, unlabeled.crops])
    all_labels = faces.labels if unlabeled is None else np.concatenate([faces.labels, unlabeled.labels])
    batches = Batches(
        faces,
        unlabeled,
        min(recipe["training.identities_per_batch"], len(faces.identities)),
        recipe["training.photos_per_identity"],
        recipe["training.unlabeled_per_batch"],
    )
    pairs = None
    if recipe["data.pairs"]:
        pairs = load_pairs(
            recipe.path("data.pairs"), recipe.path("data.pairs_images"), contract, cache / "pairs", progress
        )
    log.info(
        "%d faces of %d identities, %d unlabelled; %d validation pairs",
        len(faces.labels),
        len(faces.identities),
        0 if unlabeled is None else len(unlabeled.labels),
        0 if pairs is None else len(pairs.pairs),
    )

    model = embedding_model(
        recipe["model.backbone"],
        contract.width,
        contract.channel_count,
        contract.embedding_size,
        float(recipe["model.width"]),
        recipe["model.output_stride"],
    )
    similarity = similarity_model(contract.embedding_size)
    heads = [similarity]
    softmax = None
    if recipe["objectives.margin_softmax"] != "none":
        softmax = losses.MarginSoftmax(len(faces.identities), recipe["objectives.margin_softmax"])
        softmax.build((None, contract.embedding_size))
        heads.append(softmax)
    epochs, steps = recipe["training.epochs"], recipe["training.steps_per_epoch"]
    schedule = keras.optimizers.schedules.CosineDecay(recipe["training.learning_rate"], epochs * steps, alpha=0.02)
    optimizer = keras.optimizers.AdamW(schedule, weight_decay=float(recipe["training.weight_decay"]))
    variables = model.trainable_variables + [v for h in heads for v in h.trainable_variables]
    optimizer.build(variables)
    bce = keras.losses.BinaryCrossentropy()
    pair_kind, w_pair = recipe["objectives.pair"], float(recipe["objectives.pair_weight"])
    w_soft, w_distill = float(recipe["objectives.margin_softmax_weight"]), float(recipe["objectives.distill_weight"])

    @tf.function(reduce_retracing=True)
    def step(x, labels, target, has):
        with tf.GradientTape() as tape:
            emb = model(x, training=True)
            parts = {}
            sims = tf.matmul(emb, emb, transpose_b=True)
            positive, negative = losses.batch_pairs(labels)
            hard = losses.hard_negatives(sims, positive, negative)
            if pair_kind == "contrastive":
                parts["pair"] = w_pair * losses.contrastive(sims, positive, hard)
            if pair_kind == "bce":  # the similarity model is the pair loss: it steers the embedding
                chosen = tf.where(tf.logical_or(positive, hard))
                same = tf.cast(tf.gather_nd(positive, chosen), tf.float32)[:, None]
                ea, eb = tf.gather(emb, chosen[:, 0]), tf.gather(emb, chosen[:, 1])
                parts["similarity"] = w_pair * bce(same, similarity([ea, eb], training=True))
            else:
                # Detached: it learns without steering the embedding. From every labelled pair, the two
                # classes weighing half each: on hard negatives alone it never saw the easy strangers
                # most real pairs are, and called most of them the same person.
                chosen = tf.where(tf.logical_or(positive, negative))
                same = tf.cast(tf.gather_nd(positive, chosen), tf.float32)
                ea = tf.stop_gradient(tf.gather(emb, chosen[:, 0]))
                eb = tf.stop_gradient(tf.gather(emb, chosen[:, 1]))
                parts["similarity"] = losses.balanced_bce(same, similarity([ea, eb], training=True)[:, 0])
            if softmax is not None:
                parts["softmax"] = w_soft * softmax(emb, labels)
            if distill:
                parts["distill"] = w_distill * losses.distillation(emb, target, has)
            total = tf.add_n(list(parts.values()))
        grads = tape.gradient(total, variables)
        optimizer.apply(grads, variables)
        return total, parts

    def validate() -> dict:
        if pairs is None:
            return {}
        emb = embed(model, pairs.crops, contract)
        result = pairs.report(pairs.scores(emb))
        sim = np.asarray(similarity([emb[pairs.index[:, 0]], emb[pairs.index[:, 1]]], training=False))[:, 0]
        result["similarity_accuracy"] = pairs.report(sim)["accuracy"]
        return result

    checkpoint = out / "checkpoint.npz"
    history: list[dict] = []
    start_epoch = 0
    if resume and checkpoint.exists():
        start_epoch, history = _restore(checkpoint, model, heads, optimizer)
        log.info("resuming from %s at epoch %d", checkpoint, start_epoch + 1)
    else:
        history.append({"epoch": 0, "seconds": 0.0, **validate()})
        log.info("untrained: %s", _fmt(history[-1]))
    train_seconds = history[-1].get("seconds", 0.0) if history else 0.0
    max_seconds = 60 * recipe["training.max_minutes"] if recipe["training.max_minutes"] else None
    aug = recipe.augmentation()
    for epoch in range(start_epoch, epochs):
        rng = np.random.default_rng([recipe["training.seed"], epoch])  # the same batches whether resumed or not
        bar = keras.utils.Progbar(steps, verbose=1 if progress else 0, unit_name="step")
        epoch_start = time.perf_counter()
        sums: dict[str, float] = {}
        for i in range(steps):
            rows = batches.sample(rng)
            x = to_tensor(augment(all_crops[rows], contract, aug, rng), contract)
            t = targets[rows] if distill else np.zeros((len(rows), 1), np.float32)
            h = has_target[rows] if distill else np.zeros(len(rows), bool)
            total, parts = step(tf.constant(x), tf.constant(all_labels[rows]), tf.constant(t), tf.constant(h))
            values = {"loss": float(total), **{k: float(v) for k, v in parts.items()}}
            for k, v in values.items():
                sums[k] = sums.get(k, 0.0) + v
            bar.update(i + 1, list(values.items()))
        train_seconds += time.perf_counter() - epoch_start
        row = {"epoch": epoch + 1, "seconds": train_seconds, **{k: v / steps for k, v in sums.items()}, **validate()}
        history.append(row)
        log.info("epoch %d: %s", epoch + 1, _fmt(row))
        _write_outputs(out, recipe, contract, model, similarity, history, pairs, started)
        _checkpoint(checkpoint, history, model, heads, optimizer)  # last: the commit point of an epoch
        if max_seconds and train_seconds >= max_seconds:
            log.info("time budget of %.1f min reached after epoch %d", max_seconds / 60, epoch + 1)
            break
    if len(history) == 1 or not (out / "model.keras").exists():
        _write_outputs(out, recipe, contract, model, similarity, history, pairs, started)
    return out / "model.keras"


def _fmt(row: dict) -> str:
    return ", ".join(f"{k} {v:.4f}" for k, v in row.items() if isinstance(v, float))


def _checkpoint(path: Path, history: list[dict], model, heads, optimizer) -> None:
    arrays = {f"model_{i}": w for i, w in enumerate(model.get_weights())}
    for h, head in enumerate(heads):
        arrays.update({f"head{h}_{i}": w for i, w in enumerate(head.get_weights())})
    arrays.update({f"opt_{i}": np.asarray(v) for i, v in enumerate(optimizer.variables)})
    arrays["epoch"] = np.array(history[-1]["epoch"])
    arrays["history"] = np.frombuffer(json.dumps(history).encode(), np.uint8)
    write_atomically(path, lambda handle: np.savez(handle, **arrays))


def _restore(path: Path, model, heads, optimizer) -> tuple[int, list[dict]]:
    with np.load(path, allow_pickle=False) as data:
        model.set_weights([data[f"model_{i}"] for i in range(len(model.get_weights()))])
        for h, head in enumerate(heads):
            head.set_weights([data[f"head{h}_{i}"] for i in range(len(head.get_weights()))])
        for i, variable in enumerate(optimizer.variables):
            variable.assign(data[f"opt_{i}"])
        return int(data["epoch"]), json.loads(bytes(data["history"]))


def _write_outputs(out: Path, recipe: Recipe, contract, model, similarity, history, pairs, started: float) -> None:
    from .modelfile import write_run
    from .plots import training_curves

    report = {
        "history": history,
        "dev_accuracy": history[-1].get("accuracy"),
        "untrained_accuracy": history[0].get("accuracy"),
        "training_minutes": history[-1]["seconds"] / 60,
        "wall_minutes": (time.perf_counter() - started) / 60,
        "validation_fallbacks": None if pairs is None else pairs.fallbacks,
    }
    write_run(out, recipe, contract, model, similarity, report)
    training_curves(history, out / "curves.png")
