"""The reliability suite: faults and hostile input against the real platform, with figures.

`make reliability` runs it at full size (TRELLIS_RELIABILITY=full); `make test` runs the same tests
at a short size. Each test records what it measured with the `figures` fixture; the terminal summary
prints them as one table, and they are written to .trellis/reliability/figures.json.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

FULL = os.environ.get("TRELLIS_RELIABILITY", "short") == "full"

_recorded: list[dict[str, Any]] = []


def scale(short: Any, full: Any) -> Any:
    """The size of a run: `full` under `make reliability`, `short` in `make test`."""
    return full if FULL else short


class Figures:
    """What one test measured, a row per figure: printed after the run, never asserted here."""

    def __init__(self, test: str) -> None:
        self.test = test

    def add(self, figure: str, value: Any, unit: str = "", **detail: Any) -> None:
        _recorded.append(
            {"test": self.test, "figure": figure, "value": value, "unit": unit, **detail}
        )


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Figures:
    return Figures(request.node.name)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _recorded:
        return
    mode = "full" if FULL else "short"
    terminalreporter.section(f"reliability figures ({mode})")
    width = max(len(r["figure"]) for r in _recorded)
    test = None
    for row in _recorded:
        if row["test"] != test:
            test = row["test"]
            terminalreporter.write_line(test)
        value = row["value"]
        shown = (
            f"{value:,.2f}"
            if isinstance(value, float)
            else f"{value:,}"
            if isinstance(value, int)
            else str(value)
        )
        terminalreporter.write_line(f"  {row['figure']:<{width}}  {shown} {row['unit']}".rstrip())
    out = Path(".trellis/reliability")
    out.mkdir(parents=True, exist_ok=True)
    (out / "figures.json").write_text(json.dumps({"mode": mode, "figures": _recorded}, indent=2))
