"""
The delivery keywords of a new bad-pixel table: USEAFTER (`parse_useafter`,
`format_useafter`, with the life of ACS as its range), PEDIGREE
(`format_pedigree`) and the HISTORY text describing what was added.
"""

import logging
import re
import warnings

import numpy as np
from astropy.time import Time

from ..coords import chip_name
from ..exceptions import AcsFlecksError, BpixtabWarning

__all__ = ['parse_useafter', 'format_useafter', 'format_pedigree',
           'ACS_INSTALLED', 'USEAFTER_FUTURE_DAYS']

log = logging.getLogger(__name__)

_MONTHS = ('Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep',
           'Oct', 'Nov', 'Dec')


#: ACS was installed in HST in March 2002 (SM3B): no ACS reference can be
#: used before this date.
ACS_INSTALLED = '2002-03-01'

#: How far in the future a USEAFTER may lie (days after today).
USEAFTER_FUTURE_DAYS = 366


def _useafter_limits():
    import datetime
    start = datetime.datetime.fromisoformat(ACS_INSTALLED)
    end = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) \
        + datetime.timedelta(days=USEAFTER_FUTURE_DAYS)
    return start, end


def _quiet_time(value, **kwargs):
    """`~astropy.time.Time` without ERFA's "dubious year" warnings (the
    range is checked before, so they carry no information)."""
    import erfa
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', erfa.ErfaWarning)
        warnings.filterwarnings('ignore', message='.*leap.second.*')
        return Time(value, **kwargs)


def _parse_date(useafter, *, what='USEAFTER'):
    """A USEAFTER (ISO, CRDS form or `~astropy.time.Time`) as a
    `datetime.datetime`, without any range check."""
    import datetime
    if isinstance(useafter, Time):
        try:
            with warnings.catch_warnings():
                import erfa
                warnings.simplefilter('ignore', erfa.ErfaWarning)
                when = useafter.utc.datetime
        except (ValueError, OverflowError):
            raise AcsFlecksError(f'invalid {what} {useafter!r}') from None
        if not isinstance(when, datetime.datetime):
            raise AcsFlecksError(f'{what} must be a single date, got '
                                 f'{useafter!r}')
        when = when.replace(microsecond=0)
    else:
        text = str(useafter).strip()
        m = re.fullmatch(r'([A-Za-z]{3})\s+(\d{1,2})\s+(\d{4})'
                         r'(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?', text)
        if m and m.group(1).title() in _MONTHS:
            fields = (int(m.group(3)), _MONTHS.index(m.group(1).title()) + 1,
                      int(m.group(2))) + tuple(int(g or 0)
                                              for g in m.group(4, 5, 6))
        else:
            m = re.fullmatch(r'(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})'
                             r'(?::(\d{2})(?:\.\d*)?)?)?', text)
            fields = None if m is None else tuple(int(g or 0)
                                                  for g in m.groups())
        try:
            if fields is None:
                raise ValueError(text)
            when = datetime.datetime(*fields)
        except ValueError:
            raise AcsFlecksError(
                f'invalid {what} {useafter!r} (expected e.g. 2017-05-05 or '
                "'May 05 2017 00:00:00')") from None
    return when


def parse_useafter(useafter, *, what='USEAFTER'):
    """
    Parse a USEAFTER date and check it lies in the life of ACS.

    Parameters
    ----------
    useafter : str or `~astropy.time.Time`
        ISO ('2017-05-05', '2017-05-05T00:00:00') or CRDS form
        ('May 05 2017 00:00:00').
    what : str, optional
        Name of the value in messages (e.g. '--useafter').

    Returns
    -------
    `~astropy.time.Time`

    Raises
    ------
    acs_flecks.exceptions.AcsFlecksError
        An unreadable date, or one before ACS was installed
        (`ACS_INSTALLED`) or more than `USEAFTER_FUTURE_DAYS` days in the
        future.
    """
    when = _parse_date(useafter, what=what)
    start, end = _useafter_limits()
    if when < start:
        raise AcsFlecksError(
            f'{what} {useafter!s} is before ACS was installed on HST '
            f'({ACS_INSTALLED}): no ACS reference file applies then')
    if when > end:
        raise AcsFlecksError(
            f'{what} {useafter!s} is more than {USEAFTER_FUTURE_DAYS} days '
            f'in the future (after {end:%Y-%m-%d})')
    return _quiet_time(when.isoformat(), format='isot', scale='utc')


def format_useafter(useafter):
    """USEAFTER in the CRDS form, e.g. 'May 05 2017 00:00:00'."""
    d = parse_useafter(useafter).datetime
    return (f'{_MONTHS[d.month - 1]} {d.day:02d} {d.year:04d} '
            f'{d.hour:02d}:{d.minute:02d}:{d.second:02d}')


def format_pedigree(start, end=None):
    """PEDIGREE of an in-flight table, e.g. 'INFLIGHT 05/05/2017 05/05/2017'
    (DD/MM/YYYY)."""
    s = parse_useafter(start).datetime
    e = parse_useafter(end if end is not None else start).datetime
    if e < s:
        raise AcsFlecksError(f'PEDIGREE end {end!r} is before start {start!r}')
    return f'INFLIGHT {s:%d/%m/%Y} {e:%d/%m/%Y}'


def _pixel_runs_text(sub):
    """Compact text of pixels: 'y=1773:x=1519-1524,1530; ...'."""
    parts = []
    for y in np.unique(sub['y']):
        xs = np.sort(np.asarray(sub['x'][sub['y'] == y]))
        runs = np.split(xs, np.flatnonzero(np.diff(xs) > 1) + 1)
        txt = ','.join(f'{r[0]}' if r.size == 1 else f'{r[0]}-{r[-1]}'
                       for r in runs)
        parts.append(f'y={y}:x={txt}')
    return '; '.join(parts)


def _history_lines(pixels, *, value, threshold, detector, reference_name,
                   n_added_rows, n_added_pixels, method):
    lines = [f'acs_flecks: derived from {reference_name}; every original '
             'row kept unchanged.',
             f'Added {n_added_rows} row(s) (AXIS=1 runs, CCDAMP=N/A, '
             f'CCDGAIN=-999) flagging {n_added_pixels} pixel(s) with '
             f'DQ {value} (bad detector pixel).']
    if method:
        lines.append(f'Method: {method}')
    if 'fleck_id' in pixels.colnames:
        groups = sorted(set(np.asarray(pixels['fleck_id']).tolist()),
                        key=str)
    else:
        groups = [None]
    for fid in groups:
        sub = pixels if fid is None else pixels[np.asarray(
            pixels['fleck_id']) == fid]
        for chip in sorted(set(int(c) for c in sub['ccdchip'])):
            s = sub[sub['ccdchip'] == chip]
            name = chip_name(chip) if detector == 'WFC' else f'CCDCHIP={chip}'
            xc, yc = float(np.mean(s['x'])), float(np.mean(s['y']))
            label = 'bad pixels' if fid is None else f'fleck {fid}'
            extra = ''
            if 'transmissivity' in s.colnames and threshold is not None:
                extra = f' below {100 * threshold:.0f}% transmissivity'
            lines.append(f'{label}: {name} near (x, y) = ({xc:.0f}, {yc:.0f}):'
                         f' {len(s)} pixel(s){extra}; 1-indexed chip frame '
                         '(y=row:x=columns): '
                         + _pixel_runs_text(s))
    return lines


def _warn_useafter_before_reference(useafter, bpx):
    """Warn (`BpixtabWarning`) if the new USEAFTER is before the
    reference's own: the new table would replace it for data it never
    applied to."""
    ref_ua = bpx.primary_header.get('USEAFTER')
    if not ref_ua:
        return
    try:
        ref_t = _parse_date(ref_ua)
    except AcsFlecksError:
        log.info('%s: USEAFTER %r not understood; not compared', bpx.name,
                 ref_ua)
        return
    new_t = _parse_date(useafter)
    if new_t < ref_t:
        warnings.warn(
            f'USEAFTER {format_useafter(useafter)!r} is before the USEAFTER '
            f'{str(ref_ua).strip()!r} of the reference {bpx.name}: the new '
            'table would also replace the one in use before the reference',
            BpixtabWarning)
