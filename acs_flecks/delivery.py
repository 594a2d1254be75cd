"""
Deliver a new bad-pixel table (report §8): build it from the reference and
the fleck pixels (`acs_flecks.bpixtab`), write it to a temporary file,
certify it there (`acs_flecks.certify`) and rename it into place only if
every check passes.

This module sits above both: `acs_flecks.certify` uses `acs_flecks.bpixtab`
to read and expand tables, and neither imports this one.

>>> from acs_flecks.delivery import deliver_bpixtab          # doctest: +SKIP
>>> delivery = deliver_bpixtab('25g1256nj_bpx.fits', bad_pixels,
...                            'new_bpx.fits', useafter='2017-05-05',
...                            flecks=flecks)               # doctest: +SKIP
>>> print(delivery.certification.report())                  # doctest: +SKIP
"""

import logging
import os
import pathlib
from typing import NamedTuple

from astropy.table import Table

from .bpixtab import (DQ_BAD_PIXEL, build_bpixtab, check_threshold,
                      format_pedigree, format_useafter)
from .certify import _check_options, certify_bpixtab
from .exceptions import CertificationError
from .utils import atomic_output

__all__ = ['Delivery', 'deliver_bpixtab', 'write_bpixtab']

log = logging.getLogger(__name__)


class Delivery(NamedTuple):
    """What `deliver_bpixtab` wrote: ``path``, ``certification``,
    ``table``."""

    path: pathlib.Path
    certification: object
    table: Table


def deliver_bpixtab(reference, bad_pixels, output, *, useafter,
                    value=DQ_BAD_PIXEL, detector='WFC', description=None,
                    history=(), comment=None, pedigree=None, threshold=0.5,
                    method=None, flecks=None, certify=True, overwrite=True,
                    max_distance=30.0):
    """
    Write a new bad-pixel table: the reference plus the fleck pixels.

    Parameters
    ----------
    reference : str, path-like or `~acs_flecks.bpixtab.BpixtabFile`
        The current bpixtab (never modified).
    bad_pixels : `~astropy.table.Table`
        ``ccdchip``, ``x``, ``y`` (1-indexed full-chip frame),
        ``transmissivity``, ``fleck_id`` (from the characterization).
    output : str or path-like
        The new file; must differ from ``reference``.
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
    flecks : `~astropy.table.Table`, optional
        Fleck positions (``ccdchip``, ``x``, ``y``) for the certification's
        distance check; without them that check is reported as not run
        (the bad pixels cannot stand in for them: each is at distance 0
        from itself).
    certify : bool, optional
        Run `acs_flecks.certify.certify_bpixtab` on the temporary file and
        rename it into place only if it passes (default `True`).
    overwrite : bool, optional
        Allow replacing an existing ``output``.
    max_distance : float, optional
        Certification: largest distance (pixels) of a new flag from a fleck.

    Returns
    -------
    Delivery
        ``path`` (the output), ``certification`` (the
        `~acs_flecks.certify.CertificationResult`, `None` if not run) and
        ``table`` (the merged rows; ``meta['n_added']`` new ones).

    Raises
    ------
    acs_flecks.exceptions.AcsFlecksError
        Bad input (nothing is written).
    acs_flecks.exceptions.CertificationError
        The table failed certification (nothing is written); the
        `~acs_flecks.certify.CertificationResult` is its ``result``.
    """
    # the options in the order the delivery has always checked them: the
    # dates and threshold (build_bpixtab checks them again, at no cost),
    # then the certification's limits, before anything is read or written
    format_useafter(useafter)
    pedigree = pedigree or format_pedigree(useafter)
    if threshold is not None:
        threshold = check_threshold(threshold)
    if certify:
        _check_options(value=value, max_distance=max_distance,
                       max_new_pixels=10000)
    new = build_bpixtab(reference, bad_pixels, output, useafter=useafter,
                        value=value, detector=detector,
                        description=description, history=history,
                        comment=comment, pedigree=pedigree,
                        threshold=threshold, method=method,
                        overwrite=overwrite)
    merged = new.table
    result = None
    with atomic_output(output) as tmp:
        new.hdulist.writeto(tmp, output_verify='exception')
        if certify:
            # without fleck positions the distance check is "not run": the
            # new pixels themselves would be at distance 0 from every pixel
            result = certify_bpixtab(
                tmp, reference=new.reference, value=value, detector=detector,
                flecks=flecks, max_distance=max_distance)
            if not result.passed:
                err = CertificationError(
                    'the new bad-pixel table failed certification ('
                    + '; '.join(c.message for c in result.failures) + ')',
                    path=output)
                err.result = result
                raise err
            result.path = os.fspath(output)
    log.info('wrote %s: %d rows (%d new)', output, len(merged),
             merged.meta['n_added'])
    return Delivery(pathlib.Path(output), result, merged)


def write_bpixtab(reference, bad_pixels, output, *, useafter, **kwargs):
    """
    Write a new bad-pixel table: the reference plus the fleck pixels.

    Same as `deliver_bpixtab` (see it for every option), returning only
    the path.

    Parameters
    ----------
    reference : str, path-like or `~acs_flecks.bpixtab.BpixtabFile`
        The current bpixtab (never modified).
    bad_pixels : `~astropy.table.Table`
        ``ccdchip``, ``x``, ``y``, ``transmissivity``, ``fleck_id``.
    output : str or path-like
        The new file.
    useafter : str or `~astropy.time.Time`
        USEAFTER (the flecks' date of origin).
    **kwargs
        ``value``, ``detector``, ``description``, ``history``, ``comment``,
        ``pedigree``, ``threshold``, ``method``, ``flecks``, ``certify``,
        ``overwrite``, ``max_distance``.

    Returns
    -------
    pathlib.Path
    """
    return deliver_bpixtab(reference, bad_pixels, output, useafter=useafter,
                           **kwargs).path
