"""
Build the new bad-pixel table: the reference rows plus the fleck pixels, as
a FITS HDU list with the delivery keywords (USEAFTER, PEDIGREE, DESCRIP,
COMMENT, HISTORY) and the reference's column types (`build_bpixtab`).

Writing it to disk is the delivery's (`acs_flecks.delivery`): the file is
certified before it is renamed into place.
"""

import os
import re
import textwrap
from typing import NamedTuple

import numpy as np
from astropy.io import fits
from astropy.table import QTable, Table

from ..exceptions import AcsFlecksError, ReferenceFileError
from ..utils import check_output_path
from .checks import check_bpixtab_rows, check_new_rows
from .columns import DQ_BAD_PIXEL
from .headers import (_history_lines, _warn_useafter_before_reference,
                      format_pedigree, format_useafter)
from .merge import merge_bad_pixels
from .runs import check_threshold, select_bad_pixels
from .table import BpixtabFile, read_bpixtab

__all__ = ['NewBpixtab', 'build_bpixtab']

#: Width of a CCDAMP column added to a reference that lacks one.
_NEW_AMP_FORMAT = '4A'
#: CCDGAIN added to a reference that lacks one: REAL as in the CRDS tpn.
_NEW_GAIN_FORMAT = 'E'

_STRUCTURAL = re.compile(
    r'^(XTENSION|BITPIX|NAXIS\d*|PCOUNT|GCOUNT|TFIELDS|'
    r'T(TYPE|FORM|UNIT|NULL|DISP|SCAL|ZERO|DIM|BCOL)\d+|CHECKSUM|DATASUM)$')


class NewBpixtab(NamedTuple):
    """What `build_bpixtab` built: ``hdulist`` (to write), ``table`` (the
    merged rows; ``meta['n_added']`` new ones), ``pixels`` (the selected
    bad pixels), ``reference`` (the `BpixtabFile` it derives from)."""

    hdulist: fits.HDUList
    table: Table
    pixels: QTable
    reference: BpixtabFile


def build_bpixtab(reference, bad_pixels, output, *, useafter,
                  value=DQ_BAD_PIXEL, detector='WFC', description=None,
                  history=(), comment=None, pedigree=None, threshold=0.5,
                  method=None, overwrite=True):
    """
    Build a new bad-pixel table: the reference plus the fleck pixels.

    Nothing is written; every option is checked, and ``output`` is checked
    as a destination (`~acs_flecks.utils.check_output_path`), so that
    writing the result is the only step left.

    Parameters
    ----------
    reference : str, path-like or `BpixtabFile`
        The current bpixtab (never modified).
    bad_pixels : `~astropy.table.Table`
        ``ccdchip``, ``x``, ``y`` (1-indexed full-chip frame),
        ``transmissivity``, ``fleck_id`` (from the characterization).
    output : str or path-like
        The file it will be written to (its name goes in ``FILENAME``);
        must differ from ``reference``.
    useafter : str or `~astropy.time.Time`
        The date of origin of the flecks (report: 2017-05-05).
    value : int, optional
        DQ flag (4).
    detector : str, optional
        Detector of the flecks; the reference must match.
    description : str, optional
        ``DESCRIP`` (default says what was added).
    history : iterable of str, optional
        Extra HISTORY lines.
    comment : str, optional
        ``COMMENT`` text (default: why the table changed).
    pedigree : str, optional
        Default ``INFLIGHT <useafter> <useafter>``.
    threshold : float or None, optional
        Transmissivity below which pixels are flagged (0.5).
    method : str, optional
        One line on how the pixels were found, for HISTORY.
    overwrite : bool, optional
        Allow replacing an existing ``output``.

    Returns
    -------
    NewBpixtab

    Raises
    ------
    acs_flecks.exceptions.AcsFlecksError
        Bad input.
    """
    useafter_text = format_useafter(useafter)
    pedigree = pedigree or format_pedigree(useafter)
    if threshold is not None:
        threshold = check_threshold(threshold)
    ref_path = reference.path if isinstance(reference, BpixtabFile) else \
        os.fspath(reference)
    check_output_path(output, inputs=[ref_path], overwrite=overwrite,
                      extensions=('.fits',))
    bpx = reference if isinstance(reference, BpixtabFile) else \
        read_bpixtab(ref_path, detector=detector)
    if bpx.detector != detector.upper():
        raise ReferenceFileError(
            f'bad-pixel table is for detector {bpx.detector}, but the flecks '
            f'are on {detector.upper()}', path=ref_path)
    if isinstance(reference, BpixtabFile):
        problems = check_bpixtab_rows(bpx.table, detector=bpx.detector)
        if problems:
            raise ReferenceFileError('; '.join(problems[:3]), path=ref_path)
    _warn_useafter_before_reference(useafter, bpx)
    pixels = select_bad_pixels(bad_pixels, threshold=threshold,
                               detector=detector)
    merged = merge_bad_pixels(bpx.table, pixels, value=value,
                              detector=detector, threshold=None)
    problems = check_new_rows(merged[len(bpx.table):], detector=detector,
                              offset=len(bpx.table))
    if problems:    # pragma: no cover - merge_bad_pixels writes valid rows
        raise AcsFlecksError('new rows would be invalid: '
                             + '; '.join(problems), path=output)
    hdul = _build_hdulist(bpx, merged, output=output, useafter=useafter_text,
                          pedigree=pedigree, value=value, pixels=pixels,
                          threshold=threshold, description=description,
                          comment=comment, history=history, method=method,
                          detector=detector)
    return NewBpixtab(hdul, merged, pixels, bpx)


def _build_hdulist(bpx, merged, *, output, useafter, pedigree, value, pixels,
                   threshold, description, comment, history, method,
                   detector):
    cols = []
    known = {c.name.upper(): c for c in bpx.columns}
    for name in merged.colnames:
        data = np.asarray(merged[name])
        if name in known:
            c = known[name]
            cols.append(fits.Column(name=c.name, format=c.format, unit=c.unit,
                                    null=c.null, disp=c.disp, array=data))
        elif name == 'CCDAMP':
            cols.append(fits.Column(name=name, format=_NEW_AMP_FORMAT,
                                    array=data.astype('S4')))
        elif name == 'CCDGAIN':
            cols.append(fits.Column(name=name, format=_NEW_GAIN_FORMAT,
                                    unit='electrons/DN',
                                    array=data.astype(np.float32)))
        else:  # pragma: no cover - merged columns come from the reference
            raise ReferenceFileError(f'unexpected column {name}',
                                     path=bpx.path)
    table_hdu = fits.BinTableHDU.from_columns(cols)
    # keep the reference extension's own keywords (EXTNAME, EXTVER, INHERIT,
    # SIZAXIS1/2, HISTORY); the column keywords come from the columns
    for card in bpx.header.cards:
        if card.keyword == 'HISTORY':
            table_hdu.header.add_history(card.value)
        elif card.keyword == 'COMMENT':
            table_hdu.header.add_comment(card.value)
        elif card.keyword and not _STRUCTURAL.match(card.keyword):
            table_hdu.header.append(fits.Card(card.keyword, card.value,
                                              card.comment))
    table_hdu.header['EXTNAME'] = bpx.extname or 'BPX'
    if 'EXTVER' not in table_hdu.header:
        table_hdu.header['EXTVER'] = 1

    ph = fits.Header()
    for card in bpx.primary_header.cards:
        if card.keyword in ('SIMPLE', 'BITPIX', 'NAXIS', 'EXTEND', 'DATE',
                            'IRAF-TLM', 'CHECKSUM', 'DATASUM', ''):
            continue
        if card.keyword == 'HISTORY':
            ph.add_history(card.value)
        elif card.keyword == 'COMMENT':
            ph.add_comment(card.value)
        else:
            ph.append(fits.Card(card.keyword, card.value, card.comment))
    ph['INSTRUME'] = 'ACS'
    ph['DETECTOR'] = detector.upper()
    ph['FILETYPE'] = 'BAD PIXELS'
    ph['FILENAME'] = (os.path.basename(os.fspath(output)), 'name of file')
    ph['USEAFTER'] = (useafter, 'use after this date (flecks appeared)')
    ph['PEDIGREE'] = pedigree
    n_new = merged.meta['n_added']
    n_flecks = (len(set(np.asarray(pixels['fleck_id']).tolist()))
                if 'fleck_id' in pixels.colnames else 0)
    descrip = description or (
        f'Adds DQ {value} for {merged.meta["added_pixels"]} pixels under '
        f'{n_flecks or "the"} fleck(s)')
    ph['DESCRIP'] = descrip[:67]
    ph['ORIGIN'] = ('acs_flecks', 'software that wrote this file')
    ph.add_comment(comment or (
        f'Bad-pixel table for ACS/{detector}: the reference '
        f'{bpx.name} plus DQ {value} on particles ("flecks") in the light '
        f'path that block more than {100 * (1 - (threshold or 0.5)):.0f}% '
        'of the light (acs_flecks, report sec. 8).'))
    lines = _history_lines(
        pixels, value=value, threshold=threshold, detector=detector,
        reference_name=bpx.name, n_added_rows=n_new,
        n_added_pixels=merged.meta['added_pixels'], method=method)
    for line in list(lines) + [str(h) for h in history]:
        # wrap at word boundaries (astropy would cut words at 72 chars)
        for chunk in textwrap.wrap(line, 70, subsequent_indent='  ',
                                   break_on_hyphens=False):
            ph.add_history(chunk)
    return fits.HDUList([fits.PrimaryHDU(header=ph), table_hdu])
