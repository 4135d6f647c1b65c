"""Build the optional compiled kernel; everything else is in pyproject.toml.

The extension is optional: without a C compiler (or on a compiler without
GCC vector extensions, such as MSVC) the build skips it and the package runs
its NumPy kernel instead.
"""

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    """Add optimisation flags for GCC-compatible compilers."""

    def build_extensions(self):
        if self.compiler.compiler_type == "unix":
            for extension in self.extensions:
                # contract a * b + c into fused multiply-adds where the CPU has them
                extension.extra_compile_args = ["-O3", "-std=c11", "-ffp-contract=fast"]
        # the one slow step of an install: say so before it starts
        print(
            "sklearn-nsigma: compiling the optional kernel sklearn_nsigma._ckernel "
            "(up to a minute on a busy machine; without a C compiler the NumPy "
            "kernel is used instead)",
            flush=True,
        )
        super().build_extensions()


setup(
    ext_modules=[
        Extension(
            "sklearn_nsigma._ckernel",
            sources=["sklearn_nsigma/_ckernel.c"],
            depends=[
                "sklearn_nsigma/_ckernel_body.h",
                "sklearn_nsigma/_ckernel_transpose.h",
            ],
            optional=True,
        )
    ],
    cmdclass={"build_ext": OptionalBuildExt},
)
