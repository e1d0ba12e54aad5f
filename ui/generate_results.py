"""What the Generate tab shows of a job: every image with its own infotext, every unit's map, and an honest stopped or
failed state (no noise preview, map or infotext of another run left on screen)."""

from __future__ import annotations

from dataclasses import dataclass, field

from PIL import Image

from studio.batches import Batches


@dataclass
class Shown:
    """One visitor's results on screen: per image its infotext, so selecting image 2 shows image 2's seed."""

    images: list[tuple[Image.Image, str]] = field(default_factory=list)
    infotexts: list[str] = field(default_factory=list)
    maps: list[tuple[Image.Image, str]] = field(default_factory=list)

    @classmethod
    def of(cls, batches: Batches, unit_numbers: list[int]) -> Shown:
        """`unit_numbers`: the Generate unit each map came from (only enabled units run)."""
        first = batches.results[0] if batches.results else None
        maps = [(picture, f"unit {number} · {unit.module}")
                for picture, unit, number in zip(first.maps, first.request.units, unit_numbers)] if first else []
        images = batches.images()
        return cls([(image, f"seed {seed}") for image, seed, _ in images], [text for _, _, text in images], maps)

    def infotext(self, index: int | None) -> str:
        if not self.infotexts:
            return ""
        return self.infotexts[index if index is not None and 0 <= index < len(self.infotexts) else 0]


def done_line(batches: Batches, count: int, notes: list[str]) -> str:
    images = len(batches.images())
    finished = f"{len(batches.results)} of {count} batches, " if count > 1 else ""
    line = f"Done: {finished}{images} image{'s' if images != 1 else ''}."
    return " ".join([line, *notes]).strip()


def stopped_line(step: str, shown: Shown | None) -> str:
    kept = len(shown.images) if shown else 0
    step = step.removesuffix(" (preview)")
    where = f" at {step.lower()}" if step.startswith(("Batch", "Step")) else ""
    keeps = f" The {kept} finished image{'s are' if kept != 1 else ' is'} kept." if kept else " Nothing was kept."
    return f"Stopped{where}.{keeps} Press Generate to start again."
