"""
The instrument report's flecks, and the fleck table every report figure
draws from (`fleck_table`).
"""

import os

import numpy as np
from astropy.table import QTable, Table

from ..exceptions import AcsFlecksError, InputFileError

__all__ = ['REPORT_FLECKS', 'fleck_table']

#: The report's flecks: id, CCDCHIP, 1-indexed x, y, cutout (rows, columns)
#: and whether the fleck is part of the photometry (§6.1: the tiny fleck
#: is not).  The report's "20 x 30" box of the elongated fleck is 20
#: columns by 30 rows.
REPORT_FLECKS = (('fleck1', 2, 1521, 1773, 40, 40, True),
                 ('fleck2', 1, 3510, 355, 30, 20, True),
                 ('fleck3', 1, 1850, 1755, 40, 40, False))


def fleck_table(flecks=None):
    """
    The flecks to draw, as a `~astropy.table.QTable`.

    Parameters
    ----------
    flecks : table, path or sequence, optional
        A table (or an ECSV file) with columns ``ccdchip``, ``x``, ``y``
        (1-indexed chip pixels) and optionally ``id``, ``box_ny``,
        ``box_nx`` (cutout rows and columns, default 40) and
        ``photometry`` (default True); or a sequence of (ccdchip, x, y).
        Default: the report's three flecks (`REPORT_FLECKS`).

    Returns
    -------
    `~astropy.table.QTable`
        Columns ``id``, ``ccdchip``, ``x``, ``y``, ``box_ny``, ``box_nx``,
        ``photometry``; row order = the report's order (the first
        photometric fleck plays the large fleck, the second the elongated).

    Raises
    ------
    acs_flecks.exceptions.AcsFlecksError
        Missing columns, a chip other than 1 or 2, an empty table.
    """
    path = None
    if flecks is None:
        rows = REPORT_FLECKS
        return QTable(rows=[list(r) for r in rows],
                      names=('id', 'ccdchip', 'x', 'y', 'box_ny', 'box_nx',
                             'photometry'))
    if isinstance(flecks, (str, os.PathLike)):
        path = os.fspath(flecks)
        try:
            flecks = Table.read(path)
        except Exception as exc:  # astropy raises many types for bad files
            raise InputFileError(f'cannot read the fleck table ({exc})',
                                 path=path) from None
    if not isinstance(flecks, Table):
        try:
            flecks = Table(rows=[tuple(r) for r in flecks],
                           names=('ccdchip', 'x', 'y'))
        except (TypeError, ValueError) as exc:
            raise AcsFlecksError(f'flecks must be a table with ccdchip, x, y '
                                 f'or (ccdchip, x, y) tuples ({exc})') from None
    missing = [c for c in ('ccdchip', 'x', 'y') if c not in flecks.colnames]
    if missing:
        raise AcsFlecksError(f'fleck table lacks column(s) {", ".join(missing)}',
                             path=path)
    if len(flecks) == 0:
        raise AcsFlecksError('fleck table is empty', path=path)

    def plain(col):
        return np.asarray(getattr(col, 'value', col))
    chips = plain(flecks['ccdchip']).astype(int)
    bad = sorted(set(chips) - {1, 2})
    if bad:
        raise AcsFlecksError(f'fleck table: ccdchip must be 1 or 2, got {bad}',
                             path=path)
    n = len(flecks)
    ids = ([str(v) for v in flecks['id']] if 'id' in flecks.colnames
           else [f'fleck{i + 1}' for i in range(n)])
    out = QTable({'id': ids, 'ccdchip': chips,
                  'x': plain(flecks['x']).astype(float),
                  'y': plain(flecks['y']).astype(float)})
    for c in ('box_ny', 'box_nx'):
        out[c] = (plain(flecks[c]).astype(int) if c in flecks.colnames
                  else np.full(n, 40))
    out['photometry'] = (plain(flecks['photometry']).astype(bool)
                         if 'photometry' in flecks.colnames else np.ones(n, bool))
    return out
