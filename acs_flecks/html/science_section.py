"""
The science-data section of the HTML report of a run (`acs_flecks.html`):
which exposures and sources the flecks touch (`acs_flecks.impact`) and the
re-flagged copies (`acs_flecks.flag`).

`add_science_section` is called by `acs_flecks.html.chain_page` when the run
was given science exposures; it can add the same section to any
`~acs_flecks.html.HTMLReport`:

>>> from acs_flecks.html import HTMLReport                      # doctest: +SKIP
>>> rep = HTMLReport('impact')                                  # doctest: +SKIP
>>> add_science_section(rep, impact=res, flagged=done)          # doctest: +SKIP
>>> rep.write('impact.html')                                    # doctest: +SKIP
"""

import numpy as np
from astropy.table import QTable

__all__ = ['add_science_section']

_ROW_COLUMNS = ('exposure', 'obs_date', 'filter', 'id', 'ccdchip', 'x', 'y',
                'flagged', 'distance', 'flux_loss', 'affected')
_SUMMARY_COLUMNS = ('id', 'ra', 'dec', 'n_exposures', 'n_on_chip',
                    'n_flagged', 'n_affected', 'n_unaffected',
                    'min_distance', 'max_flux_loss')


#: Display formats of the section's tables (the report's default, 4
#: significant digits, would show ra 150.03772 as 150).
_FORMATS = {'ra': '.6f', 'dec': '.6f', 'x': '.2f', 'y': '.2f',
            'distance': '.2f', 'min_distance': '.2f', 'flux_loss': '.3f',
            'max_flux_loss': '.3f'}


def _display(table, columns):
    """A copy of ``columns`` with the numbers as text in `_FORMATS`."""
    out = QTable()
    for name in columns:
        col = table[name]
        fmt = _FORMATS.get(name)
        if fmt is None:
            out[name] = col
            continue
        unit = getattr(col, 'unit', None)
        values = np.asarray(getattr(col, 'value', col), dtype=float)
        out[name] = [format(v, fmt) if np.isfinite(v) else '' for v in values]
        if unit is not None:
            out[name].unit = unit
    return out


def add_science_section(report, *, impact=None, flagged=None, files=None):
    """
    Add the section "Science exposures" to a report.

    Parameters
    ----------
    report : `~acs_flecks.html.HTMLReport`
        The report.
    impact : `~acs_flecks.impact.ImpactResult`, optional
        What `~acs_flecks.impact.exposure_impact` found.
    flagged : `~astropy.table.QTable`, optional
        What `~acs_flecks.flag.flag_exposures` wrote.
    files : dict, optional
        name -> path of the section's output files, linked.

    Returns
    -------
    `~acs_flecks.html.ReportSection` or None
        The section (None when there is nothing to show).
    """
    if impact is None and flagged is None:
        return None
    sec = report.section('Science exposures: what the flecks touch')
    sec.text('Beyond the report: the new bad-pixel table applied to the '
             'science exposures given.  Positions through each exposure\'s '
             'own WCS with its distortion; 1-indexed full-chip pixels; '
             '"flagged" = on a fleck pixel of the table in an exposure taken '
             'on or after its USEAFTER (see docs/impact.rst).')
    if impact is not None:
        t = impact.table
        on = np.asarray(t['on_chip'], bool)
        sec.text(f'{len(impact.summary)} source(s) x '
                 f'{len(set(np.asarray(t["exposure"]).tolist()))} '
                 f'exposure(s): {int(on.sum())} on a chip, '
                 f'{int(np.sum(np.asarray(t["flagged"])))} on a flagged '
                 f'fleck pixel, {int(np.sum(np.asarray(t["affected"])))} '
                 'affected.')
        sec.table(_display(impact.summary, _SUMMARY_COLUMNS),
                  caption='Per source: exposures covering it, and how many '
                          'unaffected')
        affected = t[np.asarray(t['affected'], bool)]
        if len(affected):
            sec.table(_display(affected, _ROW_COLUMNS),
                      caption='Affected exposure x source pairs')
        for note in impact.notes:
            sec.text(note)
    if flagged is not None:
        sec.table(flagged['exposure', 'obs_date', 'applied', 'n_wfc1',
                          'n_wfc2', 'note'],
                  caption='Re-flagged copies (DQ OR-ed with the new table '
                          'as CALACS dodqi.c applies it)')
    for name, path in sorted((files or {}).items()):
        sec.link(path, name)
    return sec
