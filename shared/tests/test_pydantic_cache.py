"""The remembered default-factory signatures give pydantic the answers it would compute."""

import uuid

from pydantic import BaseModel, Field
from pydantic._internal import _fields

import trellis_shared  # noqa: F401  (applies the fix)
from trellis_shared import pydantic_cache


def test_the_fix_is_in_place_and_answers_as_pydantic_would():
    assert _fields.takes_validated_data_argument is pydantic_cache._takes_validated_data_argument
    for factory, takes_data in [
        (list, False),
        (dict, False),
        (uuid.uuid4, False),
        (lambda: [], False),
        (lambda data: data["a"], True),
    ]:
        assert _fields.takes_validated_data_argument(factory) is takes_data
        assert pydantic_cache._original(factory) is takes_data


def test_models_still_get_their_defaults():
    class Row(BaseModel):
        a: int = 1
        tags: list[str] = Field(default_factory=list)
        doubled: int = Field(default_factory=lambda data: data["a"] * 2)

    first, second = Row(), Row(a=4)
    assert first.tags == [] and first.tags is not second.tags
    assert (first.doubled, second.doubled) == (2, 8)
