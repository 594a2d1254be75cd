"""The compiled-code cache lives outside the installed package (acs_flecks.jit)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import acs_flecks
from acs_flecks.jit import cache_directory, njit

PACKAGE_DIR = Path(acs_flecks.__file__).parent

# a numba kernel of the package (the new-artifact search's median over
# epochs; the search of `acs_flecks find` is compiled C, not numba)
SCRIPT = """
import numpy as np
from acs_flecks.detect.difference import _nanmedian_rows
stack = np.arange(60, dtype='f4').reshape(3, 20)
stack[1, 3] = np.nan
print(_nanmedian_rows(stack).tolist())
"""


def _run(env_dir):
    env = dict(os.environ, ACS_FLECKS_CACHE_DIR=str(env_dir))
    return subprocess.run([sys.executable, '-c', SCRIPT], env=env,
                          capture_output=True, text=True, check=True)


class TestCacheDirectory:
    def test_environment_variable(self, monkeypatch, tmp_path):
        monkeypatch.setenv('ACS_FLECKS_CACHE_DIR', str(tmp_path))
        assert cache_directory() == str(tmp_path)

    def test_empty_disables(self, monkeypatch):
        monkeypatch.setenv('ACS_FLECKS_CACHE_DIR', '')
        assert cache_directory() is None

    def test_xdg_default(self, monkeypatch, tmp_path):
        monkeypatch.delenv('ACS_FLECKS_CACHE_DIR', raising=False)
        monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path))
        assert cache_directory() == str(tmp_path / 'acs_flecks' / 'numba')

    def test_cache_argument_refused(self):
        with pytest.raises(TypeError, match='cache'):
            njit(cache=True)


class TestNothingInThePackage:
    def test_kernels_cached_outside_the_package(self, tmp_path):
        before = set(PACKAGE_DIR.rglob('*.nb[ic]'))
        first = _run(tmp_path)
        written = list(tmp_path.rglob('*.nbi'))
        assert written, 'no index written in ACS_FLECKS_CACHE_DIR'
        assert set(PACKAGE_DIR.rglob('*.nb[ic]')) == before
        # A second process loads the same machine code and agrees.
        second = _run(tmp_path)
        assert second.stdout == first.stdout
        assert sorted(tmp_path.rglob('*.nbi')) == sorted(written)

    def test_unwritable_cache_compiles_anyway(self, tmp_path):
        before = set(PACKAGE_DIR.rglob('*.nb[ic]'))
        blocker = tmp_path / 'not_a_dir'
        blocker.write_text('x')
        out = _run(blocker / 'sub')
        assert out.stdout.strip()
        assert set(PACKAGE_DIR.rglob('*.nb[ic]')) == before
