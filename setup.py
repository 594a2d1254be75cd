"""Build of the compiled search kernels (the rest is in setup.cfg)."""

import sys

from setuptools import Extension, setup

# The results must be bit for bit those of numpy and scipy: no fast-math,
# and no contraction of a * b + c into a fused multiply-add.
if sys.platform == 'win32':
    ARGS = ['/O2', '/fp:precise']
else:
    ARGS = ['-O3', '-ffp-contract=off', '-fno-fast-math', '-std=c99']

setup(ext_modules=[
    Extension('acs_flecks.detect._kernels',
              sources=['acs_flecks/detect/_kernels.c'],
              extra_compile_args=ARGS),
])
