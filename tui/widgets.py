"""Widgets: a keyed table that updates only changed cells, and a braille line plot."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widget import Widget
from textual.widgets import DataTable

Cells = tuple[Text | str, ...]
BRAILLE = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))  # [row][column] dot bits
PALETTE = ("cyan", "magenta", "yellow", "green")


class KeyedTable(DataTable):
    """A DataTable synced from (key, cells) rows: same keys in the same order → only changed cells are redrawn."""

    def __init__(self, columns: Sequence[str], **kw: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kw)  # type: ignore[arg-type]
        self._columns = list(columns)
        self._cells: dict[str, Cells] = {}
        self._order: list[str] = []

    def on_mount(self) -> None:
        """Add the columns."""
        for name in self._columns:
            self.add_column(name, key=name)

    @property
    def selected_key(self) -> str | None:
        """Key of the row under the cursor."""
        if not self._order or not 0 <= self.cursor_row < len(self._order):
            return None
        return self._order[self.cursor_row]

    def sync(self, rows: list[tuple[str, Cells]]) -> None:
        """Show exactly `rows`, keeping the cursor on the same key."""
        keys = [k for k, _ in rows]
        if keys != self._order:
            self._rebuild(rows)
            return
        for key, cells in rows:
            old = self._cells.get(key)
            for i, value in enumerate(cells):
                if old is None or old[i] != value:
                    self.update_cell(key, self._columns[i], value, update_width=True)
            self._cells[key] = cells

    def _rebuild(self, rows: list[tuple[str, Cells]]) -> None:
        chosen = self.selected_key
        self.clear()
        self._order = [k for k, _ in rows]
        self._cells = dict(rows)
        for key, cells in rows:
            self.add_row(*cells, key=key)
        if chosen in self._cells:
            self.move_cursor(row=self._order.index(chosen), animate=False)


def resample(values: Sequence[float], n: int) -> list[float]:
    """`values` linearly interpolated onto `n` evenly spaced points."""
    if not values or n <= 0:
        return []
    if len(values) == 1:
        return [float(values[0])] * n
    out = []
    for i in range(n):
        x = i * (len(values) - 1) / max(1, n - 1)
        lo = int(x)
        hi = min(lo + 1, len(values) - 1)
        out.append(values[lo] + (values[hi] - values[lo]) * (x - lo))
    return out


def braille(series: Sequence[Sequence[float]], width: int, height: int) -> list[list[tuple[int, int]]]:
    """Each series drawn as a connected braille line: a grid of (dot bits, series index) per cell."""
    grid = [[(0, -1) for _ in range(width)] for _ in range(height)]
    finite = [v for s in series for v in s]
    if not finite or width <= 0 or height <= 0:
        return grid
    lo, hi = min(finite), max(finite)
    span, rows = (hi - lo) or 1.0, height * 4
    for index, values in enumerate(series):
        ys = [round((hi - v) / span * (rows - 1)) for v in resample(values, width * 2)]
        for x, y in enumerate(ys):
            prev = ys[x - 1] if x else y
            for yy in range(min(prev, y), max(prev, y) + 1):  # vertical fill keeps steep lines connected
                bits, _ = grid[yy // 4][x // 2]
                grid[yy // 4][x // 2] = (bits | BRAILLE[yy % 4][x % 2], index)
    return grid


class Plot(Widget):
    """A titled line chart of one or more named series, with min, max and last values."""

    def __init__(self, title: str, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.title = title
        self.series: dict[str, list[float]] = {}

    def show(self, series: dict[str, list[float]]) -> None:
        """Replace the data and redraw."""
        self.series = {k: v for k, v in series.items() if v}
        self.refresh()

    def render(self) -> Text:
        """Legend line, then the braille chart with its range on the left."""
        width, height = max(1, self.size.width - 9), max(1, self.size.height - 1)
        out = Text(f"{self.title}  ", style="bold")
        if not self.series:
            return out.append("no data yet", style="italic bright_black")
        for i, (name, values) in enumerate(self.series.items()):
            out.append(f"━ {name} {values[-1]:.4g}  ", style=PALETTE[i % len(PALETTE)])
        every = [v for s in self.series.values() for v in s]
        grid = braille(list(self.series.values()), width, height)
        for r, row in enumerate(grid):
            label = f"{max(every):8.4g} " if r == 0 else (f"{min(every):8.4g} " if r == height - 1 else " " * 9)
            out.append("\n" + label, style="bright_black")
            for bits, index in row:
                out.append(chr(0x2800 + bits), style=PALETTE[index % len(PALETTE)] if index >= 0 else "")
        return out
