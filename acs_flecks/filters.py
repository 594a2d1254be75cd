"""
ACS/WFC filters: which are broadband, and their wavelengths.

The report (§6.1, Table 1) analyses 8 broadband filters and skips the
narrowband ones.  Effective wavelengths default to the published WFC pivot
wavelengths (ACS Instrument Handbook, Table 5.1; see ``docs/science.rst``).

>>> from acs_flecks.filters import resolve_filter
>>> resolve_filter('CLEAR1L', 'F814W')
'F814W'
"""

import astropy.units as u

__all__ = ['BROADBAND_FILTERS', 'NARROWBAND_FILTERS', 'WFC_FILTERS',
           'PIVOT_WAVELENGTHS', 'TABLE1_FLATS', 'resolve_filter',
           'is_broadband', 'is_clear']

#: The 8 broadband filters of the report's photometric analysis, blue to red.
BROADBAND_FILTERS = ('F435W', 'F475W', 'F555W', 'F606W', 'F625W', 'F775W',
                     'F814W', 'F850LP')

#: Narrowband and medium-band filters the report leaves out of photometry.
NARROWBAND_FILTERS = ('F502N', 'F550M', 'F658N', 'F660N', 'F892N')

#: Every filter-wheel element usable with WFC (besides CLEAR positions).
WFC_FILTERS = BROADBAND_FILTERS + NARROWBAND_FILTERS + (
    'G800L', 'POL0UV', 'POL60UV', 'POL120UV', 'POL0V', 'POL60V', 'POL120V',
    'FR388N', 'FR423N', 'FR462N', 'FR505N', 'FR551N', 'FR601N', 'FR647M',
    'FR656N', 'FR716N', 'FR782N', 'FR853N', 'FR914M', 'FR931N', 'FR1016N')

#: WFC pivot wavelengths (ACS Instrument Handbook, Table 5.1).
PIVOT_WAVELENGTHS = {k: v * u.AA for k, v in {
    'F435W': 4329.9, 'F475W': 4746.2, 'F502N': 5023.0, 'F550M': 5581.2,
    'F555W': 5360.9, 'F606W': 5921.1, 'F625W': 6311.4, 'F658N': 6584.0,
    'F660N': 6599.4, 'F775W': 7692.4, 'F814W': 8045.0, 'F850LP': 9033.1,
    'F892N': 8914.8}.items()}

#: Report Table 1 (CAL/ACS 14954 lamp flats): exposure time (s) and the
#: median of the combined CRC image (electrons); None where not given.
TABLE1_FLATS = {
    'F435W': (52.8, 180653), 'F475W': (16.2, 176405), 'F502N': (372.0, None),
    'F550M': (20.4, None), 'F555W': (12.0, 169050), 'F606W': (6.9, 205767),
    'F625W': (9.0, 167525), 'F658N': (150.0, None), 'F660N': (420.0, None),
    'F775W': (11.1, 142623), 'F814W': (8.7, 177182), 'F850LP': (12.6, 163937),
}


def is_clear(name):
    """True for a CLEAR filter-wheel position (CLEAR1L, CLEAR2S, ...)."""
    return str(name).strip().upper().startswith('CLEAR')


def is_broadband(name):
    """True if ``name`` is one of the 8 broadband filters of the report."""
    return str(name).strip().upper() in BROADBAND_FILTERS


def resolve_filter(filter1, filter2):
    """
    Resolve the filter in the light path from FILTER1 and FILTER2.

    Parameters
    ----------
    filter1, filter2 : str
        The primary-header keywords (one is normally a CLEAR position).

    Returns
    -------
    str
        The non-CLEAR element; ``'CLEAR'`` if both are CLEAR; both joined
        by ``';'`` (e.g. ``'F606W;POL0V'``) if neither is.
    """
    names = [str(f).strip().upper() for f in (filter1, filter2)
             if f is not None and str(f).strip()]
    used = [f for f in names if not is_clear(f)]
    if not used:
        return 'CLEAR'
    return ';'.join(used)
