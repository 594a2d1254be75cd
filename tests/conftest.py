"""Shared test configuration and small synthetic ACS files."""

import os
import pathlib

import numpy as np
import pytest
from astropy.io import fits

#: ``../shared/real`` beside the project root: real STScI files (the
#: nearest ``shared/real`` up the tree, so a git worktree finds it too).
REAL_DIR = next((p / 'shared' / 'real' for p in
                 pathlib.Path(__file__).resolve().parents[1].parents
                 if (p / 'shared' / 'real').is_dir()),
                pathlib.Path(__file__).resolve().parents[1].parent
                / 'shared' / 'real')


def real_file(name):
    """Path of a real STScI file, or skip the test if it is not there."""
    path = REAL_DIR / name
    if not path.exists():
        pytest.skip(f'real STScI file {name} not found in {REAL_DIR}')
    return path


def write_acs(path, *, shape=(64, 96), chips=(2, 1), instrume='ACS',
              detector='WFC', filter1='CLEAR1L', filter2='F814W',
              exptime=10.0, expstart=57878.5, flashdur=0.0,
              flashsta='NOT PERFORMED', imagetyp='DARK', sci=None, ltv=(0, 0),
              omit=(), extra_primary=None):
    """Write a small ACS-layout file: primary + SCI/ERR/DQ per chip, in the
    real order (first triple = CCDCHIP 2).  ``sci`` maps ccdchip -> array.
    ``omit`` lists (EXTNAME, EXTVER) pairs to leave out."""
    ph = fits.Header()
    ph['INSTRUME'] = instrume
    ph['DETECTOR'] = detector
    ph['FILTER1'] = filter1
    ph['FILTER2'] = filter2
    ph['EXPTIME'] = exptime
    ph['EXPSTART'] = expstart
    ph['DATE-OBS'] = '2017-05-05'
    ph['TIME-OBS'] = '12:00:00'
    ph['FLASHDUR'] = flashdur
    ph['FLASHSTA'] = flashsta
    ph['IMAGETYP'] = imagetyp
    ph['OBSTYPE'] = 'INTERNAL'
    ph['ROOTNAME'] = os.path.basename(str(path)).split('_')[0]
    for k, v in (extra_primary or {}).items():
        ph[k] = v
    hdus = [fits.PrimaryHDU(header=ph)]
    rng = np.random.default_rng(1)
    for ver, chip in enumerate(chips, start=1):
        data = (sci or {}).get(chip)
        if data is None:
            data = rng.normal(100, 1, shape).astype(np.float32)
        h = fits.Header()
        h['CCDCHIP'] = chip
        h['BUNIT'] = 'ELECTRONS'
        h['LTV1'] = float(ltv[0])
        h['LTV2'] = float(ltv[1])
        h['NCOMBINE'] = 3
        for name, arr in (('SCI', data), ('ERR', np.ones(shape, np.float32)),
                          ('DQ', np.zeros(shape, np.int16))):
            if (name, ver) in omit:
                continue
            hdu = fits.ImageHDU(arr, header=h.copy(), name=name, ver=ver)
            hdus.append(hdu)
    fits.HDUList(hdus).writeto(path, overwrite=True)
    return path
