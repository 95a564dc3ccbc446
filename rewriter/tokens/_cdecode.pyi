# The compiled twin of rewriter.tokens.codec's byte-table decoder (built from _cdecode.c).

def decode_symbols(
    data: bytes, following: bytes, packed: bytes, stride: int, /
) -> tuple[bytes, int]: ...
