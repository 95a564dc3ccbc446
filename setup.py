"""The compiled parts, built from source at install: the scanner and the token decoder;
everything else is in pyproject.toml.

`optional=True`: without a compiler or the Python headers the install still succeeds and the
pure-Python twins are used (`rewriter --version` names the scanner in use).
"""

import os

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "rewriter.document._cscan",
            ["rewriter/document/_cscan.c"],
            optional=True,
            # `make fuzz` builds it with AddressSanitizer through REWRITER_CSCAN_CFLAGS.
            extra_compile_args=["-O2", *os.environ.get("REWRITER_CSCAN_CFLAGS", "").split()],
            extra_link_args=os.environ.get("REWRITER_CSCAN_LDFLAGS", "").split(),
        ),
        # The token decoder's twin: optional as well (codec.py falls back to its Python loop).
        Extension(
            "rewriter.tokens._cdecode",
            ["rewriter/tokens/_cdecode.c"],
            optional=True,
            extra_compile_args=["-O2", *os.environ.get("REWRITER_CSCAN_CFLAGS", "").split()],
            extra_link_args=os.environ.get("REWRITER_CSCAN_LDFLAGS", "").split(),
        ),
    ]
)
