"""Trellis common library: mechanisms every service shares, and no business rules."""

from trellis_shared import pydantic_cache  # noqa: F401  (a fix applied on import)
