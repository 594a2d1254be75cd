"""
Re-flag the DQ of exposures calibrated before the new bad-pixel table.

The new table (report §8) reaches only data calibrated after its delivery.
`flag_exposures` writes a copy of each calibrated ACS/WFC exposure (flt/flc,
full frame or subarray) with the table's flags OR-ed into its DQ arrays
exactly as CALACS ``DQICORR`` applies them (hstcal ``pkg/acs/lib/dodqi.c``,
`acs_flecks.bpixtab.expand_bpixtab`): per chip, the rows whose ``CCDCHIP``
matches the SCI header's (or -999), whose ``CCDAMP`` matches the primary
``CCDAMP`` string (or 'N/A'/'ANY') and whose ``CCDGAIN`` matches the primary
``CCDGAIN`` (or -999/-1), shifted by that chip's ``LTV1``/``LTV2`` and
clipped at the image edges; when no row applies, DQ 64 at pixel [1, 1], as
CALACS does.

* Exposures taken before the table's ``USEAFTER`` (the flecks' date of
  origin) are copied byte for byte and reported as such: the flecks were
  not there.
* The copy's primary header gets HISTORY cards naming the table; nothing
  else changes (SCI, ERR, headers, WCS, HDRLET, ... are kept).
* Inputs are never modified; an output path equal to an input (or two
  inputs with the same name) is refused before anything is written; each
  copy is written to a temporary file and renamed.

>>> from acs_flecks.flag import flag_exposures                 # doctest: +SKIP
>>> flag_exposures(glob('*_flc.fits'), bpixtab='new_bpx.fits',
...                outdir='reflagged')                          # doctest: +SKIP
"""

import logging
import os
import shutil
import textwrap

import numpy as np
from astropy.io import fits
from astropy.table import QTable

from .exceptions import AcsFlecksError, InputFileError
from .science import DeliveredTable, chip_selection, open_science
from .utils import atomic_output, check_output_path

__all__ = ['flag_exposures', 'flag_exposure']

log = logging.getLogger(__name__)


def _plan(paths, outdir, bpx_path, overwrite):
    outdir = os.fspath(outdir)
    if os.path.exists(outdir) and not os.path.isdir(outdir):
        raise AcsFlecksError('output directory is a file', path=outdir)
    outputs = [os.path.join(outdir, os.path.basename(p)) for p in paths]
    real_in = {os.path.realpath(p): p for p in paths + [bpx_path]}
    seen = {}
    for src, out in zip(paths, outputs):
        real = os.path.realpath(out)
        if real in real_in:
            raise AcsFlecksError(
                f'output {out} would overwrite the input '
                f'{real_in[real]}; choose another output directory',
                path=outdir)
        if real in seen:
            raise AcsFlecksError(
                f'{seen[real]} and {src} have the same file name: their '
                'copies would collide in the output directory', path=outdir)
        seen[real] = src
        if not overwrite and os.path.exists(out):
            raise AcsFlecksError('output file exists (use --overwrite)',
                                 path=out)
    return outdir, outputs


def _dq_hdu(hdul, extver, path):
    for i, hdu in enumerate(hdul):
        if str(hdu.header.get('EXTNAME', '')).strip().upper() == 'DQ' and \
                int(hdu.header.get('EXTVER', 1)) == extver:
            return i
    raise InputFileError(f'no [DQ,{extver}]', path=path)  # pragma: no cover


def _materialize(hdu, shape):
    """A constant ("null") DQ extension as a full array (NAXIS=0,
    PIXVALUE), keeping its header keywords."""
    value = int(hdu.header.get('PIXVALUE', 0))
    header = hdu.header.copy()
    for key in ('PIXVALUE', 'NPIX1', 'NPIX2'):
        header.remove(key, ignore_missing=True)
    return fits.ImageHDU(np.full(shape, value, np.int16), header=header)


def flag_exposure(img, table, output):
    """
    Write one re-flagged copy (no checks of the output path: see
    `flag_exposures`).

    Parameters
    ----------
    img : `~acs_flecks.io.ACSImage`
        The exposure (`acs_flecks.science.open_science`).
    table : `~acs_flecks.science.DeliveredTable`
        The new bad-pixel table.
    output : str
        The copy.

    Returns
    -------
    dict
        ``applied`` (bool), ``n_pixels`` (pixels that gained a flag, per
        CCDCHIP), ``note``.
    """
    if not table.applies_to(img):
        with atomic_output(output) as tmp:
            shutil.copyfile(img.path, tmp)
        note = (f'taken {img.obs_time.isot[:19]}, before USEAFTER '
                f'{table.useafter.isot[:19]} of {table.name}: copied '
                'unchanged')
        log.debug('%s: %s', img.name, note)
        return dict(applied=False, n_pixels={}, note=note)
    amp, gain = chip_selection(img)
    gained = {}
    with fits.open(img.path, memmap=False) as hdul:
        had_checksum = any('CHECKSUM' in h.header for h in hdul)
        for ext, hdu in enumerate(hdul):
            if str(hdu.header.get('EXTNAME', '')).strip().upper() != 'SCI':
                continue
            chip = int(hdu.header['CCDCHIP'])
            ver = int(hdu.header.get('EXTVER', 1))
            i = _dq_hdu(hdul, ver, img.path)
            if hdul[i].data is None:
                hdul[i] = _materialize(hdul[i], img.shape)
            dq = hdul[i].data
            mask = table.mask(img, chip)
            bits = dq.view(np.uint16) if dq.dtype.kind == 'i' and \
                dq.dtype.itemsize == 2 else dq.astype(np.uint16)
            new = bits | mask
            gained[chip] = int(np.count_nonzero(new != bits))
            out = new.view(dq.dtype) if new.dtype.itemsize == \
                dq.dtype.itemsize and dq.dtype.kind in 'iu' else \
                new.astype(dq.dtype)
            hdul[i].data = np.ascontiguousarray(out)
        total = sum(gained.values())
        per_chip = ', '.join(f'WFC{c}: {n}' for c, n in sorted(gained.items()))
        lines = [f'acs_flecks flag: DQ OR-ed with bad-pixel table '
                 f'{table.name} (USEAFTER {table.useafter.isot[:19]}) as '
                 f'CALACS DQICORR (dodqi.c) applies it for CCDAMP={amp} '
                 f'CCDGAIN={gain:g} and each chip\'s CCDCHIP and LTV; '
                 f'{total} pixel(s) gained a flag ({per_chip}).']
        for line in lines:
            for chunk in textwrap.wrap(line, 70, subsequent_indent='  ',
                                       break_on_hyphens=False):
                hdul[0].header.add_history(chunk)
        with atomic_output(output) as tmp:
            hdul.writeto(tmp, checksum=had_checksum, output_verify='exception')
    note = f'{total} pixel(s) gained a flag ({per_chip})'
    log.debug('%s: %s', img.name, note)
    return dict(applied=True, n_pixels=gained, note=note)


def flag_exposures(exposures, *, bpixtab, outdir, overwrite=False,
                   reference=None):
    """
    Write re-flagged copies of calibrated exposures (see the module
    docstring).

    Parameters
    ----------
    exposures : list of str or path-like
        Calibrated ACS/WFC exposures (flt/flc, full frame or subarray).
    bpixtab : str, path-like or `~acs_flecks.science.DeliveredTable`
        The new bad-pixel table.
    outdir : str or path-like
        Where the copies go (same file names); created if missing.
    overwrite : bool, optional
        Replace existing copies (never an input).
    reference : str, optional
        Passed to `~acs_flecks.science.DeliveredTable.read` (only used to
        describe the fleck rows; every row of the table is applied).

    Returns
    -------
    `~astropy.table.QTable`
        ``exposure``, ``output``, ``obs_date``, ``applied``, ``n_wfc1``,
        ``n_wfc2`` (pixels that gained a flag), ``note``.

    Raises
    ------
    acs_flecks.exceptions.AcsFlecksError
        Bad input or output path; nothing is written.
    """
    # the same file given twice is copied once
    paths = list({os.path.realpath(os.fspath(p)): os.fspath(p)
                  for p in exposures}.values())
    if not paths:
        raise AcsFlecksError('no exposures given')
    table = bpixtab if isinstance(bpixtab, DeliveredTable) else \
        DeliveredTable.read(bpixtab, reference=reference)
    images = []
    for p in paths:
        img = open_science(p, operation='flag')
        table.check_detector(img)
        images.append(img)
    outdir, outputs = _plan(paths, outdir, table.path, overwrite)
    os.makedirs(outdir, exist_ok=True)
    for out in outputs:
        check_output_path(out, inputs=paths + [table.path],
                          overwrite=overwrite)
    rows = []
    for img, out in zip(images, outputs):
        res = flag_exposure(img, table, out)
        rows.append((img.name, out, img.obs_time.isot[:19], res['applied'],
                     res['n_pixels'].get(1, 0), res['n_pixels'].get(2, 0),
                     res['note']))
    result = QTable(rows=rows, names=('exposure', 'output', 'obs_date',
                                      'applied', 'n_wfc1', 'n_wfc2', 'note'))
    result.meta.update({'bpixtab': table.name,
                        'useafter': table.useafter.isot[:19]})
    return result
