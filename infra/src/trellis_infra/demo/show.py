"""How the demo shows its progress: a rich progress bar per step, and a line per fact."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)


@dataclass
class Bar:
    progress: Progress
    task: TaskID

    def advance(self, n: int = 1) -> None:
        self.progress.advance(self.task, n)

    def update(self, *, completed: float | None = None, total: float | None = None) -> None:
        self.progress.update(self.task, completed=completed, total=total)

    def say(self, text: str) -> None:
        self.progress.update(self.task, note=text)


class Show:
    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console()

    def step(self, title: str) -> None:
        self.console.print(f"\n[bold cyan]{title}[/]")

    def fact(self, text: str) -> None:
        self.console.print(f"  [green]✓[/] {text}")

    def warn(self, text: str) -> None:
        self.console.print(f"  [yellow]![/] {text}")

    def _progress(self) -> Progress:
        return Progress(
            SpinnerColumn(finished_text="[green]✓[/]"),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("[dim]{task.fields[note]}"),
            console=self.console,
        )

    @contextmanager
    def bar(self, description: str, total: float | None) -> Iterator[Bar]:
        """A bar that stays on screen once done (one per step, so the run reads as a log)."""
        with self.bars({"": (description, total)}) as bars:
            yield bars[""]

    @contextmanager
    def bars(self, specs: dict[str, tuple[str, float | None]]) -> Iterator[dict[str, Bar]]:
        """Several bars at once, for steps that go on side by side: name -> (text, total)."""
        with self._progress() as progress:
            yield {
                name: Bar(progress, progress.add_task(text, total=total, note=""))
                for name, (text, total) in specs.items()
            }
