"""Progress on stderr for long operations (rich), silent when stderr is not a terminal."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

Advance = Callable[[str], None]


@contextlib.contextmanager
def progress(label: str, total: int, enabled: bool | None = None) -> Iterator[Advance]:
    """Yield `advance(what)`; shows a bar on stderr when it is a terminal (or `enabled`)."""
    show = sys.stderr.isatty() if enabled is None else enabled
    if not show:
        yield lambda what: None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[what]}"), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=total, what="")
        yield lambda what: bar.update(task, advance=1, what=what)
