"""Types of linkguard/core/_slots.pyx (compiled only) for type checkers."""

from typing import TypeVar

_T = TypeVar("_T")

def build(cls: type[_T], descriptors: tuple[object, ...], values: tuple[object, ...]) -> _T: ...
