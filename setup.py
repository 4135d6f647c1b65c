"""Build the optional compiled kernels; everything else is in pyproject.toml.

The extensions (the distance kernel and the EM steps) are optional: without a
C compiler (or on a compiler without GCC vector extensions, such as MSVC) the
build skips them and the package runs its NumPy code instead.
"""

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    """Add optimisation flags for GCC-compatible compilers."""

    def build_extensions(self):
        if self.compiler.compiler_type == "unix":
            for extension in self.extensions:
                # contract a * b + c into fused multiply-adds where the CPU has
                # them; no debug information (most of the modules' size)
                extension.extra_compile_args = [
                    "-O3",
                    "-std=c11",
                    "-ffp-contract=fast",
                    "-g0",
                ]
        # the one slow step of an install: say so before it starts
        print(
            "sklearn-nsigma: compiling the optional kernels sklearn_nsigma._ckernel "
            "and sklearn_nsigma._emkernel (up to a minute on a busy machine; "
            "without a C compiler the NumPy code is used instead)",
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
                "sklearn_nsigma/_kernel_common.h",
            ],
            optional=True,
        ),
        Extension(
            "sklearn_nsigma._emkernel",
            sources=["sklearn_nsigma/_emkernel.c"],
            depends=[
                "sklearn_nsigma/_emkernel_body.h",
                "sklearn_nsigma/_kernel_common.h",
            ],
            optional=True,
        ),
    ],
    cmdclass={"build_ext": OptionalBuildExt},
)
