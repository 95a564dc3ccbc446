# The compiled skip of rewriter.document.scan (built from _cscan.c when a compiler is there).

def skip(
    buffer: bytes, pos: int, conditional: bool, globs: tuple[tuple[bytes, bool], ...], /
) -> tuple[str | None, int]: ...
