"""Figures the reliability suite measures, printed as one table at the end of a run.

Each test records what it measured next to its target (``figures.record``); the
session prints every row, so ``make soak`` shows the full-size table and
``make test`` the smoke-size one. The assertion in the test is what fails a run;
the table is the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured value against its target."""

    test: str
    name: str
    value: str
    target: str
    met: bool


@dataclass
class Figures:
    """Rows recorded during one pytest session."""

    rows: list[Figure] = field(default_factory=list)

    def record(
        self, test: str, name: str, value: object, target: str, *, met: bool
    ) -> None:
        """Add one row: what ``test`` measured as ``name`` against ``target``."""
        self.rows.append(Figure(test, name, str(value), target, met))

    def table(self) -> list[str]:
        """The rows as aligned text lines, a header first."""
        header = ("test", "figure", "measured", "target", "")
        body = [
            (r.test, r.name, r.value, r.target, "ok" if r.met else "MISSED")
            for r in self.rows
        ]
        widths = [max(len(row[i]) for row in [header, *body]) for i in range(5)]
        return [
            "  ".join(
                cell.ljust(width) for cell, width in zip(row, widths, strict=True)
            )
            for row in [header, *body]
        ]


#: The session's one collector (pytest runs one session per process).
FIGURES: Final = Figures()
