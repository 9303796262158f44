"""Face embeddings with onnxruntime, per the model contract in the ONNX file."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort

from ..contract import ModelContract
from ..errors import SiamfaceError
from .landmarks import default_landmark_model
from .preprocess import preprocess_faces

DEFAULT_MODEL = Path(__file__).parent.parent / "models" / "siamface-resnet.onnx"


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class Embedder:
    def __init__(self, path: str | Path = DEFAULT_MODEL, threads: int = 1) -> None:
        self.path = Path(path)
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            raise SiamfaceError(f"{self.path}: model file not found (model.path)") from None
        except IsADirectoryError:
            raise SiamfaceError(f"{self.path}: is a folder, expected an ONNX model file (model.path)") from None
        except OSError as exc:
            raise SiamfaceError(f"{self.path}: model file cannot be read ({exc.strerror}) (model.path)") from None
        self.fingerprint = hashlib.sha256(data).hexdigest()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises several unrelated types for a bad file
            raise SiamfaceError(f"{self.path}: not a loadable ONNX model ({str(exc).splitlines()[0]})") from None
        self.contract = ModelContract.from_metadata(self._session.get_modelmeta().custom_metadata_map, str(self.path))
        # Names and shapes change with the export path, so they are read, never assumed.
        model_input = self._session.get_inputs()[0]
        self._input_name = model_input.name
        self._output_name = self._session.get_outputs()[0].name
        self._fixed_batch = model_input.shape[0] if isinstance(model_input.shape[0], int) else None
        c = self.contract
        expected = [c.height, c.width, c.channel_count] if c.layout == "nhwc" else [c.channel_count, c.height, c.width]
        declared = list(model_input.shape[1:])
        if any(isinstance(d, int) and d != e for d, e in zip(declared, expected)):
            raise SiamfaceError(
                f"{self.path}: input shape {declared} does not match its metadata ({c.layout} {expected})"
            )
        if c.alignment == "landmarks5":
            default_landmark_model()  # loaded with the model, so a missing file fails at start, not at the first face

    def embed_batch(self, batch: np.ndarray) -> np.ndarray:
        """L2-normalised embeddings (N, D) for an already preprocessed batch."""
        if len(batch) == 0:
            return np.zeros((0, self.contract.embedding_size), dtype=np.float32)
        if self._fixed_batch == 1:
            parts = [
                self._session.run([self._output_name], {self._input_name: batch[i : i + 1]})[0]
                for i in range(len(batch))
            ]
            out = np.concatenate(parts)
        else:
            out = self._session.run([self._output_name], {self._input_name: batch})[0]
        out = out.reshape(len(batch), -1).astype(np.float32)
        if out.shape[1] != self.contract.embedding_size:
            raise SiamfaceError(
                f"{self.path}: output has {out.shape[1]} values, metadata siamface.embedding_size says "
                f"{self.contract.embedding_size}"
            )
        return l2_normalize(out)

    def embed_faces(self, frame: np.ndarray, boxes: Sequence[Sequence[int]]) -> np.ndarray:
        return self.embed_batch(preprocess_faces(frame, boxes, self.contract))
