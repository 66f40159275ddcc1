"""Types of the compiled sealing core (linkguard/core/_sealcore.pyx) for type checkers."""

from collections.abc import Callable, Iterable

def zlib_version() -> str: ...
def deflate_fixed(data: bytes) -> bytes | None: ...
def decodes_to(stream: bytes, data: bytes) -> bool: ...
def configure(
    zdict: bytes,
    small_blob: int,
    mem_levels: Iterable[tuple[int, int]],
    max_link_index: int,
    max_url_chars: int,
    max_shown_chars: int,
    max_token_chars: int,
) -> None: ...

class Sealer:
    def __init__(
        self,
        encrypt: Callable[[bytes, bytes, bytes | None], bytes],
        header: bytes,
        flags: int,
        issued: bytes,
        tail: bytes,
        display_flag: int,
        deflated_flag: int,
    ) -> None: ...
    def seal(
        self, url: str, link_index: int, display_text: str | None, nonce: bytes | None
    ) -> str | None: ...
