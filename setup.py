"""The compiled parts, built from source at install: the scanner and the token decoder;
everything else is in pyproject.toml.

`optional=True`: without a compiler or the Python headers the install still succeeds and the
pure-Python twins are used (`rewriter --version` names the scanner in use).
"""

import os

from setuptools import Extension, setup


def optional_extension(name: str, source: str) -> Extension:
    """A compiled twin, built when a compiler is there. `make fuzz` builds every one with
    AddressSanitizer through REWRITER_CSCAN_CFLAGS and REWRITER_CSCAN_LDFLAGS."""
    return Extension(
        name,
        [source],
        optional=True,
        extra_compile_args=["-O2", *os.environ.get("REWRITER_CSCAN_CFLAGS", "").split()],
        extra_link_args=os.environ.get("REWRITER_CSCAN_LDFLAGS", "").split(),
    )


setup(
    ext_modules=[
        optional_extension("rewriter.document._cscan", "rewriter/document/_cscan.c"),
        # The token decoder's twin (codec.py falls back to its Python loop).
        optional_extension("rewriter.tokens._cdecode", "rewriter/tokens/_cdecode.c"),
    ]
)
