"""The reliability suite: faults and hostile input against the real platform, with figures.

`make reliability` runs it at full size (TRELLIS_RELIABILITY=full); `make test` runs the same tests
at a short size. Each test states what it measured with the `figures` fixture: one summary row
(`figures.summary`) and any detailed figures (`figures.add`). The terminal summary prints the
summary table first, a row per area (the test module, or what `row=` names), then the details;
both are written to .trellis/reliability/figures.json.
"""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest

FULL = os.environ.get("TRELLIS_RELIABILITY", "short") == "full"
COLUMNS = {
    "test": "test",
    "load": "load",
    "faults": "faults injected",
    "cases": "cases",
    "lost": "lost",
    "duplicated": "duplicated",
    "errors_5xx": "5xx",
    "leaks": "leaks",
}
COUNTS = ("cases", "lost", "duplicated", "errors_5xx", "leaks")
WRAP = 42  # characters of a load or faults cell per line, so that the table fits a terminal

_recorded: list[dict[str, Any]] = []
_summaries: list[dict[str, Any]] = []
_failed: set[str] = set()


def scale(short: Any, full: Any) -> Any:
    """The size of a run: `full` under `make reliability`, `short` in `make test`."""
    return full if FULL else short


def _area(nodeid: str) -> str:
    """tests/reliability/faults/test_chaos_ledger.py::test_x -> "chaos ledger"."""
    module = nodeid.split("::", 1)[0].rsplit("/", 1)[-1].removesuffix(".py")
    return module.removeprefix("test_").replace("_", " ")


class Figures:
    """What one test measured: printed after the run, never asserted here."""

    def __init__(self, test: str, nodeid: str) -> None:
        self.test = test
        self.nodeid = nodeid

    def add(self, figure: str, value: Any, unit: str = "", **detail: Any) -> None:
        _recorded.append(
            {"test": self.test, "figure": figure, "value": value, "unit": unit, **detail}
        )

    def summary(
        self,
        *,
        load: str | None,
        faults: str | None,
        cases: int | None,
        lost: int | None = None,
        duplicated: int | None = None,
        errors_5xx: int | None = None,
        leaks: int | None = None,
        row: str | None = None,
    ) -> None:
        """The test's line in the summary table; None is "not applicable". Tests of one area
        (`row`, by default the module) share a row: their counts add up."""
        _summaries.append(
            {
                "row": row or _area(self.nodeid),
                "test": self.nodeid,
                "load": load,
                "faults": faults,
                "cases": cases,
                "lost": lost,
                "duplicated": duplicated,
                "errors_5xx": errors_5xx,
                "leaks": leaks,
            }
        )


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Figures:
    return Figures(request.node.name, request.node.nodeid)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.failed:
        _failed.add(report.nodeid)


def _rows() -> list[dict[str, Any]]:
    """The summary table: per area, counts summed (None only if no test gave one), distinct
    load and faults texts joined; an area with a failed test says so."""
    rows: dict[str, dict[str, Any]] = {}
    for entry in _summaries:
        row = rows.setdefault(
            entry["row"],
            {"test": entry["row"], "load": [], "faults": [], "tests": []} | dict.fromkeys(COUNTS),
        )
        if entry["test"] not in row["tests"]:
            row["tests"].append(entry["test"])
        for text in ("load", "faults"):
            if entry[text] and entry[text] not in row[text]:
                row[text].append(entry[text])
        for count in COUNTS:
            if entry[count] is not None:
                row[count] = (row[count] or 0) + entry[count]
    for nodeid in sorted(_failed):
        if not any(nodeid in row["tests"] for row in rows.values()):
            row = rows.setdefault(
                _area(nodeid),
                {"test": _area(nodeid), "load": [], "faults": [], "tests": []}
                | dict.fromkeys(COUNTS),
            )
            row["tests"].append(nodeid)
    for row in rows.values():
        failed = sum(1 for t in row["tests"] if t in _failed)
        row["failed"] = failed
        row["load"] = "; ".join(row["load"]) or None
        row["faults"] = "; ".join(row["faults"]) or None
    return list(rows.values())


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _table(rows: list[dict[str, Any]]) -> list[str]:
    cells = []
    for row in rows:
        label = row["test"] + (f" ({row['failed']} FAILED)" if row["failed"] else "")
        cells.append(
            [
                [label],
                textwrap.wrap(_cell(row["load"]), WRAP),
                textwrap.wrap(_cell(row["faults"]), WRAP),
                *([_cell(row[count])] for count in COUNTS),
            ]
        )
    header = list(COLUMNS.values())
    widths = [
        max([len(header[i])] + [len(line) for row in cells for line in row[i]])
        for i in range(len(header))
    ]

    def line(parts: list[str]) -> str:
        texts = [
            part.rjust(width) if i >= 3 else part.ljust(width)
            for i, (part, width) in enumerate(zip(parts, widths, strict=True))
        ]
        return " | ".join(texts).rstrip()

    lines = [line(header), "-+-".join("-" * w for w in widths)]
    for row in cells:
        for n in range(max(len(column) for column in row)):
            lines.append(line([column[n] if n < len(column) else "" for column in row]))
    return lines


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _recorded and not _summaries and not _failed:
        return
    mode = "full" if FULL else "short"
    rows = _rows()
    if rows:
        terminalreporter.section(f"reliability summary ({mode} run)")
        for text in _table(rows):
            terminalreporter.write_line(text)
    if _recorded:
        terminalreporter.section(f"reliability figures ({mode} run)")
        width = max(len(r["figure"]) for r in _recorded)
        test = None
        for row in _recorded:
            if row["test"] != test:
                test = row["test"]
                terminalreporter.write_line(test)
            shown = f"  {row['figure']:<{width}}  {_shown(row['value'])} {row['unit']}"
            terminalreporter.write_line(shown.rstrip())
    out = Path(".trellis/reliability")
    out.mkdir(parents=True, exist_ok=True)
    (out / "figures.json").write_text(
        json.dumps({"mode": mode, "summary": rows, "figures": _recorded}, indent=2, default=str)
    )
