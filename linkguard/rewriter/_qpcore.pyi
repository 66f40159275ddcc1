"""Types of linkguard/rewriter/_qpcore.pyx (compiled only) for type checkers."""

from collections.abc import Callable, Sequence

from linkguard.rewriter.charset import ByteEdit
from linkguard.rewriter.transfer import Splice

def physical_lines(body: bytes) -> tuple[list[int], list[int], bytes] | None: ...
def wrap(text: bytes, soft: bytes) -> bytes | None: ...
def runs(
    body: bytes, enc: list[int], dec: list[int], decoded: bytes, edits: Sequence[ByteEdit],
    at: int, encode_run: Callable[[bytes, bytes, bool], bytes],
    splice: type[Splice],
) -> list[Splice]: ...
def longest_line(data: bytes) -> int: ...
