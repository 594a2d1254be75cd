"""
Run SExtractor (``source-extractor``) the way the report did (§7), for
comparison with `~acs_flecks.detect.find_artifacts`.

The report ran SExtractor with ``DETECT_THRESH 5`` and ``DETECT_MINAREA 25``
on the median-filtered, inverted DKC.  To compare like with like, the
other settings follow the photutils search: no detection filter
(``FILTER N``: the image is already smoothed by the 15x15 median),
SExtractor's default deblending (``DEBLEND_NTHRESH 32``,
``DEBLEND_MINCONT 0.005``, as acs_flecks' ``deblend=True`` with
``deblend_min_area=3``; with ``deblend=False``, ``DEBLEND_MINCONT 1``, as
``find --no-deblend``), and a
background mesh of the same size as the acs_flecks grid
(``BACK_SIZE 128``, ``BACK_FILTERSIZE 3``).  SExtractor positions
(``X_IMAGE``, ``Y_IMAGE``) are 1-indexed like the catalog's.

>>> from acs_flecks.detect.sextractor import run_sextractor  # doctest: +SKIP
>>> run_sextractor(inverted)                                  # doctest: +SKIP
"""

import os
import shutil
import subprocess
import tempfile

import numpy as np
from astropy.io import fits
from astropy.table import QTable

from ..exceptions import AcsFlecksError

__all__ = ['SEXTRACTOR', 'sextractor_available', 'run_sextractor']

#: Name of the Debian SExtractor binary.
SEXTRACTOR = 'source-extractor'

_PARAMS = ('NUMBER', 'X_IMAGE', 'Y_IMAGE', 'ISOAREA_IMAGE', 'FLUX_ISO',
           'FLUX_MAX', 'XMIN_IMAGE', 'XMAX_IMAGE', 'YMIN_IMAGE',
           'YMAX_IMAGE')


def sextractor_available():
    """True if ``source-extractor`` is on the PATH."""
    return shutil.which(SEXTRACTOR) is not None


def run_sextractor(image, *, detect_thresh=5.0, detect_minarea=25,
                   back_size=128, back_filtersize=3, deblend=True,
                   conv_filter=False, rms_map=None, workdir=None,
                   extra=None):
    """
    Run SExtractor on a 2-D image (e.g. the inverted, median-filtered chip).

    Parameters
    ----------
    image : 2-D array or str
        The image, or a FITS file (primary HDU).
    detect_thresh, detect_minarea : float, int
        As the report: 5 and 25.
    back_size, back_filtersize : int
        Background mesh.
    deblend : bool
        SExtractor's default deblending (``DEBLEND_NTHRESH 32``,
        ``DEBLEND_MINCONT 0.005``, default) or none (``DEBLEND_MINCONT 1``).
    conv_filter : bool
        Use a detection filter (default 3x3 pyramid) instead of none.
    rms_map : 2-D array, optional
        Use this noise map (``WEIGHT_TYPE MAP_RMS``) and no background
        (``BACK_TYPE MANUAL``, ``BACK_VALUE 0``: ``image`` must be
        background-subtracted) instead of SExtractor's own mesh; with the
        acs_flecks maps both programs then apply the same threshold.
    workdir : str, optional
        Where to write the temporary files (default: a temporary
        directory, removed afterwards).
    extra : dict, optional
        More ``-KEY value`` options.

    Returns
    -------
    `~astropy.table.QTable`
        Columns ``x``, ``y`` (1-indexed, SExtractor's convention), ``area``,
        ``flux_iso``, ``flux_max`` and the bounding box.
    """
    if not sextractor_available():
        raise AcsFlecksError(f'{SEXTRACTOR} is not installed')
    own = workdir is None
    workdir = tempfile.mkdtemp(prefix='acs_flecks_sex_') if own else workdir
    try:
        if isinstance(image, (str, os.PathLike)):
            path = os.fspath(image)
        else:
            path = os.path.join(workdir, 'image.fits')
            fits.PrimaryHDU(np.asarray(image, dtype=np.float32)).writeto(
                path, overwrite=True)
        par = os.path.join(workdir, 'sex.param')
        with open(par, 'w') as fh:
            fh.write('\n'.join(_PARAMS) + '\n')
        cat = os.path.join(workdir, 'sex.cat')
        opts = {'PARAMETERS_NAME': par, 'CATALOG_NAME': cat,
                'CATALOG_TYPE': 'ASCII_HEAD',
                'DETECT_THRESH': detect_thresh,
                'ANALYSIS_THRESH': detect_thresh,
                'DETECT_MINAREA': detect_minarea,
                'FILTER': 'Y' if conv_filter else 'N',
                'DEBLEND_NTHRESH': 32,
                'DEBLEND_MINCONT': 0.005 if deblend else 1.0,
                'BACK_SIZE': back_size, 'BACK_FILTERSIZE': back_filtersize,
                'CLEAN': 'N', 'CHECKIMAGE_TYPE': 'NONE',
                'VERBOSE_TYPE': 'QUIET', 'NTHREADS': 1,
                'MEMORY_PIXSTACK': 3000000, 'MEMORY_BUFSIZE': 4096}
        if conv_filter:
            conv = os.path.join(workdir, 'default.conv')
            with open(conv, 'w') as fh:
                fh.write('CONV NORM\n1 2 1\n2 4 2\n1 2 1\n')
            opts['FILTER_NAME'] = conv
        if rms_map is not None:
            wpath = os.path.join(workdir, 'rms.fits')
            fits.PrimaryHDU(np.asarray(rms_map, dtype=np.float32)).writeto(
                wpath, overwrite=True)
            opts.update({'WEIGHT_TYPE': 'MAP_RMS', 'WEIGHT_IMAGE': wpath,
                         'WEIGHT_GAIN': 'N', 'BACK_TYPE': 'MANUAL',
                         'BACK_VALUE': 0.0})
        opts.update(extra or {})
        cmd = [SEXTRACTOR, path, '-c', os.devnull]
        for k, v in opts.items():
            cmd += [f'-{k}', str(v)]
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              cwd=workdir)
        if proc.returncode != 0 or not os.path.exists(cat):
            raise AcsFlecksError(f'{SEXTRACTOR} failed: '
                                 f'{proc.stderr.strip()[-300:]}')
        data = np.loadtxt(cat, comments='#', ndmin=2)
        table = QTable()
        cols = {'x': 1, 'y': 2, 'area': 3, 'flux_iso': 4, 'flux_max': 5,
                'xmin': 6, 'xmax': 7, 'ymin': 8, 'ymax': 9}
        for name, i in cols.items():
            table[name] = data[:, i] if data.size else np.zeros(0)
        return table
    finally:
        if own:
            shutil.rmtree(workdir, ignore_errors=True)
