"""The command line every service answers: `python -m trellis_<name> [serve|migrate]`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from trellis_shared.migrations import upgrade
from trellis_shared.settings import ServiceSettings


def main(
    *,
    app_path: str,
    settings_factory: Callable[[], ServiceSettings],
    migrations_dir: Path,
    argv: list[str] | None = None,
) -> None:
    args = sys.argv[1:] if argv is None else argv
    verb = args[0] if args else "serve"
    settings = settings_factory()
    if verb == "migrate":
        upgrade(migrations_dir, settings)
    elif verb == "serve":
        import uvicorn

        uvicorn.run(
            app_path,
            factory=True,
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            proxy_headers=True,
            timeout_graceful_shutdown=10,
        )
    else:
        raise SystemExit(f"usage: python -m {app_path.split('.')[0]} [serve|migrate]")
