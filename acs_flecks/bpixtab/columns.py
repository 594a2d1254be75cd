"""
The layout of an ACS bad-pixel table: the columns CALACS needs, the
wildcards it matches, the flag it sets, and reading a column as numbers or
strings whatever its FITS type.

CALACS opens the table in hstcal ``pkg/acs/lib/dodqi.c`` (``OpenBpixTab``:
``PIX1``, ``PIX2``, ``LENGTH``, ``AXIS``, ``VALUE``, ``CCDCHIP`` are
required; ``CCDAMP`` and ``CCDGAIN`` select rows when present); the
wildcards are those of ``pkg/acs/include/acswild.h``.
"""

import numpy as np

from ..dq import FLECK_FLAG

__all__ = ['REQUIRED_COLUMNS', 'DQ_BAD_PIXEL']

#: Columns CALACS needs (``OpenBpixTab`` fails without any of them).
REQUIRED_COLUMNS = ('PIX1', 'PIX2', 'LENGTH', 'AXIS', 'VALUE', 'CCDCHIP')

#: The DQ flag of a bad detector pixel (hstcal ``acsdq.h`` DETECTORPROB,
#: `acs_flecks.dq.FLECK_FLAG`).
DQ_BAD_PIXEL = FLECK_FLAG

# Wildcards of hstcal ``acswild.h``: INT_WILDCARD -1, INT_IGNORE -999,
# STRING_WILDCARD 'ANY'; dodqi.c also treats CCDAMP 'N/A' as a match.
_INT_WILDCARDS = (-1, -999)
_AMP_WILDCARDS = ('ANY', 'N/A')


def _column(table, name):
    """The values of a column as a plain array (without units)."""
    return np.asarray(getattr(table[name], 'value', table[name]))


def _strings(col):
    """A string column as `str`, decoded and right-stripped (FITS pads
    strings with blanks)."""
    arr = np.asarray(col)
    if arr.dtype.kind == 'S':
        arr = np.char.decode(arr, 'ascii', errors='replace')
    return np.char.rstrip(arr.astype(str))
