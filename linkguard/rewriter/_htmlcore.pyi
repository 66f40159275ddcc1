"""Types of linkguard/rewriter/_htmlcore.pyx (compiled only) for type checkers."""

PAIRS: tuple[tuple[str, str], ...]

def links(text: str) -> tuple[list[tuple[int, str, int, int, str, int, int]], int]: ...
