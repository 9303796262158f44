"""Augmentation for camera reality: the box shifts and scales, light changes, grey IR cameras, blur, JPEG."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from siamface.edge.contract import ModelContract

from .faces import to_model_colour, view_fraction


@dataclass(frozen=True)
class Augmentation:
    flip: float = 0.5  # probability
    shift: float = 0.08  # box shift, fraction of the crop side
    scale: float = 0.12  # box side scaled by 1 ± this
    rotate: float = 10.0  # degrees, ±
    brightness: float = 0.25  # ±, fraction of full scale
    contrast: float = 0.3  # factor 1 ± this
    gamma: float = 0.3  # exponent 1 ± this
    gray: float = 0.2  # probability
    blur: float = 0.2  # probability of a Gaussian blur, sigma up to 1.5 px
    jpeg: float = 0.3  # probability of re-encoding at quality 30 to 90
    noise: float = 0.0  # probability of sensor noise, sigma up to 6 grey levels
    cast: float = 0.0  # colour cast: each channel's gain 1 ± this (white balance off)


def augment(crops: np.ndarray, contract: ModelContract, aug: Augmentation, rng: np.random.Generator) -> np.ndarray:
    """Model-size uint8 faces from cached context crops, each with its own random changes."""
    size = crops.shape[1]
    base = size * view_fraction(contract)
    out = np.empty((len(crops), contract.height, contract.width, contract.channel_count), np.uint8)
    for i, crop in enumerate(crops):
        side = base * (1 + rng.uniform(-aug.scale, aug.scale))
        cx = size / 2 + rng.uniform(-aug.shift, aug.shift) * base
        cy = size / 2 + rng.uniform(-aug.shift, aug.shift) * base
        angle = rng.uniform(-aug.rotate, aug.rotate)
        # One affine warp: rotate about the (shifted) centre and scale the box to the output size.
        matrix = cv2.getRotationMatrix2D((cx, cy), angle, contract.width / side)
        matrix[0, 2] += contract.width / 2 - cx
        matrix[1, 2] += contract.height / 2 - cy
        face = cv2.warpAffine(
            crop, matrix, (contract.width, contract.height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
        )
        if rng.random() < aug.flip:
            face = face[:, ::-1]
        face = camera_look(np.ascontiguousarray(face), aug, rng)
        out[i] = to_model_colour(face, contract).reshape(out.shape[1:])
    return out


def camera_look(image: np.ndarray, aug: Augmentation, rng: np.random.Generator) -> np.ndarray:
    """A BGR uint8 image with the light, colour and losses of a camera: the changes that move no pixel."""
    face = image.astype(np.float32) / 255.0
    if aug.gamma:
        face = face ** np.exp(rng.uniform(-aug.gamma, aug.gamma))
    if aug.contrast or aug.brightness:
        mean = face.mean()
        face = (face - mean) * (1 + rng.uniform(-aug.contrast, aug.contrast)) + mean
        face = face + rng.uniform(-aug.brightness, aug.brightness)
    if aug.cast:
        face = face * rng.uniform(1 - aug.cast, 1 + aug.cast, 3).astype(np.float32)
    face = np.clip(face * 255.0, 0, 255).astype(np.uint8)
    if rng.random() < aug.gray:
        face = cv2.cvtColor(cv2.cvtColor(face, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    if rng.random() < aug.blur:
        face = cv2.GaussianBlur(face, (0, 0), rng.uniform(0.5, 1.5))
    # Only drawn when asked for, so that the recipes written before these existed see the same numbers.
    if aug.noise and rng.random() < aug.noise:
        sigma = rng.uniform(1.0, 6.0)
        face = np.clip(face + rng.normal(0, sigma, face.shape), 0, 255).astype(np.uint8)
    if rng.random() < aug.jpeg:
        _ok, data = cv2.imencode(".jpg", face, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 91))])
        face = cv2.imdecode(data, cv2.IMREAD_COLOR)
    return face
