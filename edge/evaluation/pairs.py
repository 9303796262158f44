"""The LFW View-2 pairs format: ``FOLDS N``, then per fold N same-person and N different-person lines."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import SiamfaceError


@dataclass(frozen=True)
class Pair:
    first: tuple[str, int]  # (identity, image number)
    second: tuple[str, int]
    same: bool
    fold: int
    line: int  # 1-based line in the pairs file, for error messages


def image_path(images: Path, name: str, number: int) -> Path:
    return images / name / f"{name}_{number:04d}.jpg"


def read_pairs(path: str | Path) -> list[Pair]:
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise SiamfaceError(f"{path}: pairs file not found") from None
    try:
        folds, per_fold = (int(v) for v in lines[0].split())
    except (IndexError, ValueError):
        raise SiamfaceError(f"{path}: line 1: expected 'FOLDS N' (two whole numbers)") from None
    body = [(number, line) for number, line in enumerate(lines[1:], start=2) if line.strip()]
    if len(body) != 2 * folds * per_fold:
        raise SiamfaceError(
            f"{path}: {len(body)} pair lines, header says {folds} folds of 2x{per_fold} = {2 * folds * per_fold}"
        )
    pairs = []
    for index, (number, line) in enumerate(body):
        fold, within = divmod(index, 2 * per_fold)
        same = within < per_fold
        fields = line.split()
        try:
            if same and len(fields) == 3:
                pair = Pair((fields[0], int(fields[1])), (fields[0], int(fields[2])), True, fold, number)
            elif not same and len(fields) == 4:
                pair = Pair((fields[0], int(fields[1])), (fields[2], int(fields[3])), False, fold, number)
            else:
                raise ValueError
        except ValueError:
            expected = "'name i j' (same person)" if same else "'name1 i name2 j' (different people)"
            raise SiamfaceError(f"{path}: line {number}: {line.strip()!r}, expected {expected}") from None
        pairs.append(pair)
    return pairs
