"""A finished matrix as files: the labelled grid PNG (its metadata names the axes) and a ZIP holding every cell as a
PNG with its own infotext, plus each column's map, named so the archive sorts as the grid reads."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from pipelines.outputs import png_info
from studio.matrix import Matrix, matrix_grid
from ui.scratch import Scratch, slug


def export_matrix(matrix: Matrix, scratch: Scratch) -> tuple[Path, Path]:
    """(grid PNG, ZIP of cells), named after the matrix's seed so two downloads do not overwrite each other."""
    seed = next(cell for cell in matrix.cells if cell is not None).seeds[0]
    grid = scratch.save_png(matrix_grid(matrix), f"matrix-seed{seed}")
    archive = scratch.path(f"matrix-seed{seed}-cells.zip")
    width = len(matrix.columns)
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zipped:  # PNGs are compressed already
        for number, (label, picture) in enumerate(zip(matrix.columns, matrix.maps)):
            zipped.writestr(f"map-c{number + 1}-{slug(label)}.png", _png(picture))
        for index, cell in enumerate(matrix.cells):
            if cell is None:
                continue
            row, number = divmod(index, width)
            for image, cell_seed in zip(cell.images, cell.seeds):
                name = f"r{row + 1}-c{number + 1}-{slug(matrix.columns[number])}-seed{cell_seed}.png"
                zipped.writestr(name, _png(image))
    return grid, archive


def _png(image) -> bytes:
    buffer = io.BytesIO()
    text = image.info.get("parameters")
    image.save(buffer, format="PNG", pnginfo=png_info(text) if text else None)
    return buffer.getvalue()
