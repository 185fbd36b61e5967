"""Optimistic concurrency over HTTP: a version becomes a weak ETag; updates must send If-Match."""

from __future__ import annotations

from trellis_shared.problems import Problem


def etag(version: int) -> str:
    return f'W/"{version}"'


def require_if_match(if_match: str | None, current_version: int) -> None:
    """Refuse an update made without a version (428) or against a stale one (412)."""
    if not if_match:
        raise Problem(
            428,
            "Send If-Match with the ETag you read, so a concurrent change is not overwritten",
            errors=[{"field": "header.If-Match", "message": "required"}],
        )
    offered = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if "*" in offered or f'"{current_version}"' in offered:
        return
    raise Problem(
        412,
        f"The resource changed since you read it; its current ETag is {etag(current_version)}",
        current_etag=etag(current_version),
    )
