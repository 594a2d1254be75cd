"""Tests of acs_flecks.reference: path, jref$, CRDS cache, CRDS server."""

import os

import pytest

from acs_flecks.exceptions import AcsFlecksError, CRDSLookupError
from acs_flecks.reference import (reference_name_from_image,
                                  resolve_reference, split_iraf_path)

from conftest import write_acs


@pytest.fixture
def no_crds(tmp_path, monkeypatch):
    """No jref, an empty CRDS cache and an unreachable CRDS server."""
    monkeypatch.delenv('jref', raising=False)
    monkeypatch.setenv('CRDS_SERVER_URL', 'http://127.0.0.1:9')
    monkeypatch.setenv('CRDS_PATH', str(tmp_path / 'crds_cache'))
    return tmp_path


def make_ref(path):
    path.write_bytes(b'SIMPLE  =                    T' + b' ' * 50)
    return path


class TestSplit:
    @pytest.mark.parametrize('name, expect', [
        ('jref$25g1256nj_bpx.fits', ('jref', '25g1256nj_bpx.fits')),
        ('/a/b_bpx.fits', (None, '/a/b_bpx.fits')),
        ('$x', (None, '$x'))])
    def test_split(self, name, expect):
        assert split_iraf_path(name) == expect


class TestResolve:
    def test_explicit_path(self, tmp_path):
        ref = make_ref(tmp_path / 'a_bpx.fits')
        assert resolve_reference(str(ref)) == ref

    def test_jref(self, tmp_path, no_crds, monkeypatch):
        ref = make_ref(tmp_path / 'a_bpx.fits')
        monkeypatch.setenv('jref', str(tmp_path) + os.sep)
        assert resolve_reference('jref$a_bpx.fits') == ref

    def test_jref_missing_file(self, tmp_path, no_crds, monkeypatch):
        monkeypatch.setenv('jref', str(tmp_path))
        with pytest.raises(CRDSLookupError, match='no such file'):
            resolve_reference('jref$zz_bpx.fits')

    def test_crds_cache(self, tmp_path, no_crds):
        # a file already in the CRDS cache is found without a server
        import crds
        path = crds.locate_file('25g1256nj_bpx.fits', 'hst')
        os.makedirs(os.path.dirname(path), exist_ok=True)
        make_ref(pathlib_path(path))
        assert str(resolve_reference('jref$25g1256nj_bpx.fits')) == path

    def test_auto(self, tmp_path, no_crds, monkeypatch):
        ref = make_ref(tmp_path / 'b_bpx.fits')
        monkeypatch.setenv('jref', str(tmp_path) + os.sep)
        img = write_acs(tmp_path / 'x_flt.fits', shape=(4, 4),
                        extra_primary={'BPIXTAB': 'jref$b_bpx.fits'})
        assert resolve_reference('auto', image=img) == ref
        assert reference_name_from_image(img)[0] == 'jref$b_bpx.fits'

    def test_auto_without_image(self):
        with pytest.raises(AcsFlecksError, match='needs an input image'):
            resolve_reference('auto')

    def test_auto_image_without_bpixtab(self, tmp_path):
        img = write_acs(tmp_path / 'x_flt.fits', shape=(4, 4))
        with pytest.raises(AcsFlecksError, match='no BPIXTAB'):
            resolve_reference('auto', image=img)

    def test_auto_no_server(self, tmp_path, no_crds):
        img = write_acs(tmp_path / 'x_flt.fits', shape=(4, 4),
                        extra_primary={'BPIXTAB': 'jref$c_bpx.fits'})
        with pytest.raises(CRDSLookupError, match='no CRDS server reachable'):
            resolve_reference('auto', image=img)
        # nothing downloaded or created in the cache
        cache = tmp_path / 'crds_cache'
        assert not cache.exists() or not any(
            p.is_file() for p in cache.rglob('*_bpx.fits'))

    def test_missing_path(self, tmp_path):
        with pytest.raises(AcsFlecksError, match='no such reference'):
            resolve_reference(str(tmp_path / 'nope' / 'x_bpx.fits'))


def pathlib_path(p):
    import pathlib
    return pathlib.Path(p)
