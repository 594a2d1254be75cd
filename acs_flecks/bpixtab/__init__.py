"""
The ACS bad-pixel table (BPIXTAB, CRDS type ``bpx``): read, expand, merge,
build (report §8).

A bpixtab lists runs of bad pixels, one per row: ``PIX1``, ``PIX2`` (the
1-indexed first pixel in the trimmed full-chip frame), ``LENGTH``, ``AXIS``
(1 = along x, 2 = along y), ``VALUE`` (the DQ flag OR-ed into each pixel),
selected by ``CCDCHIP`` and optionally ``CCDAMP`` and ``CCDGAIN``.

One module per step, as hstcal ``pkg/acs/lib`` has one file per
calibration step:

* ``table`` -- `read_bpixtab`, `BpixtabFile`: read a table as CALACS opens
  it, keeping its column types;
* ``checks`` -- `check_bpixtab_rows`, `bpixtab_row_warnings`,
  `check_new_rows`: the rows CALACS refuses, clips or ignores, and what a
  written row must satisfy;
* ``dodqi`` -- `expand_bpixtab`: the rows as the DQ mask of one chip,
  exactly as CALACS does (hstcal ``pkg/acs/lib/dodqi.c``);
* ``runs`` -- `select_bad_pixels`, `mask_to_runs`, `bad_pixel_rows`: the
  pixels to flag as ``AXIS=1`` runs;
* ``merge`` -- `merge_bad_pixels`: the reference rows kept unchanged, new
  rows for the pixels it does not already flag;
* ``headers`` -- `parse_useafter`, `format_useafter`, `format_pedigree`
  and the HISTORY text;
* ``write`` -- `build_bpixtab`: the new table as a FITS HDU list.

Writing the table and certifying it before it is renamed into place is
`acs_flecks.delivery` (`~acs_flecks.delivery.deliver_bpixtab`), which sits
above this subpackage and `acs_flecks.certify`.

>>> from acs_flecks import bpixtab                           # doctest: +SKIP
>>> bpx = bpixtab.read_bpixtab('25g1256nj_bpx.fits')         # doctest: +SKIP
>>> dq = bpixtab.expand_bpixtab(bpx, ccdchip=2)              # doctest: +SKIP
"""

from ..coords import CHIP_SHAPES, DETECTOR_CHIPS
from ..exceptions import BpixtabWarning
from .checks import bpixtab_row_warnings, check_bpixtab_rows, check_new_rows
from .columns import DQ_BAD_PIXEL, REQUIRED_COLUMNS
from .dodqi import expand_bpixtab
from .headers import (ACS_INSTALLED, USEAFTER_FUTURE_DAYS, format_pedigree,
                      format_useafter, parse_useafter)
from .merge import merge_bad_pixels
from .runs import (bad_pixel_rows, check_threshold, mask_to_runs,
                   select_bad_pixels)
from .table import BpixtabFile, read_bpixtab
from .write import NewBpixtab, build_bpixtab

__all__ = ['BpixtabFile', 'read_bpixtab', 'check_bpixtab_rows',
           'bpixtab_row_warnings', 'check_new_rows', 'check_threshold',
           'expand_bpixtab', 'mask_to_runs', 'bad_pixel_rows',
           'merge_bad_pixels', 'build_bpixtab', 'NewBpixtab',
           'parse_useafter', 'format_useafter', 'format_pedigree',
           'select_bad_pixels', 'ACS_INSTALLED', 'USEAFTER_FUTURE_DAYS',
           'BpixtabWarning', 'REQUIRED_COLUMNS', 'CHIP_SHAPES',
           'DETECTOR_CHIPS', 'DQ_BAD_PIXEL']
