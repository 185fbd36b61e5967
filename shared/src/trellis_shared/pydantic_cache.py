"""Remember whether a pydantic default factory takes the validated data, per factory.

SQLModel builds a table row (`Person(...)`) without pydantic's validator, asking each field for
its default; pydantic 2.14 then inspects the default factory's signature again for every field
of every row (`list` and `dict`, being builtins, through a parse of their text signature). That
was a third of the CPU time of `POST /profiles/people`. A factory's signature never changes, so
the answer is remembered. Applied on import of `trellis_shared`; a pydantic without the function
is left alone.
"""

from __future__ import annotations

import functools
from typing import Any

from pydantic._internal import _fields

_original = getattr(_fields, "takes_validated_data_argument", None)


@functools.lru_cache(maxsize=1024)
def _remembered(default_factory: Any) -> bool:
    return _original(default_factory)


def _takes_validated_data_argument(default_factory: Any) -> bool:
    try:
        return _remembered(default_factory)
    except TypeError:  # an unhashable factory
        return _original(default_factory)


if _original is not None and not getattr(_original, "__trellis__", False):
    _takes_validated_data_argument.__trellis__ = True  # type: ignore[attr-defined]
    _fields.takes_validated_data_argument = _takes_validated_data_argument
