"""The compiled scanner, built from source at install; everything else is in pyproject.toml.

`optional=True`: without a compiler or the Python headers the install still succeeds and the
pure-Python scanner is used (`rewriter --version` names the one in use).
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
        )
    ]
)
