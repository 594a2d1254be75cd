"""
Effective wavelengths of the lamp flats (report §6.1, Figures 14 and 16).

The report plots transmissivity against "the effective wavelength of the
Tungsten lamp spectrum convolved with the filter passbands".  Computing that
needs the ACS throughput curves and the lamp spectrum, which come with the
STScI CDBS/TRDS data of synphot/stsynphot and cannot be had offline here.
The default is therefore the filters' published WFC **pivot wavelengths**
(ACS Instrument Handbook, Table 5.1, in `acs_flecks.filters.PIVOT_WAVELENGTHS`);
the difference from a lamp-weighted effective wavelength is tens of Angstrom,
small against the widths of the broadband filters.  If the user has a
throughput curve, `effective_wavelength` computes the photon-weighted
effective wavelength of a blackbody lamp through it (``method='lamp'``).

>>> from acs_flecks.characterize.wavelengths import effective_wavelength
>>> effective_wavelength('F435W')
<Quantity 4329.9 Angstrom>
"""

import astropy.units as u
import numpy as np
from astropy.modeling.physical_models import BlackBody

from ..exceptions import AcsFlecksError
from ..filters import PIVOT_WAVELENGTHS

__all__ = ['effective_wavelength', 'WAVELENGTH_SOURCE',
           'DEFAULT_LAMP_TEMPERATURE']

#: Where the default wavelengths come from (written into table metadata).
WAVELENGTH_SOURCE = ('pivot wavelength of the ACS/WFC filter (ACS Instrument '
                     'Handbook, Table 5.1); the report\'s lamp-weighted '
                     'effective wavelength needs CDBS throughput data that is '
                     'not available offline')

#: Colour temperature assumed for the Tungsten lamp with ``method='lamp'``.
DEFAULT_LAMP_TEMPERATURE = 3000 * u.K


def effective_wavelength(filter_name, *, method='pivot', throughput=None,
                         lamp_temperature=DEFAULT_LAMP_TEMPERATURE):
    """
    Effective wavelength of a filter.

    Parameters
    ----------
    filter_name : str
        e.g. ``'F435W'``.
    method : {'pivot', 'lamp'}
        ``'pivot'``: the published pivot wavelength.  ``'lamp'``: the
        photon-weighted mean wavelength of a blackbody lamp spectrum of
        ``lamp_temperature`` through ``throughput``,
        ``int(lambda^2 T B) / int(lambda T B)``.
    throughput : tuple of (`~astropy.units.Quantity`, array-like), optional
        (wavelength, throughput) of the filter (required for ``'lamp'``).
    lamp_temperature : `~astropy.units.Quantity`
        Lamp colour temperature for ``'lamp'``.

    Returns
    -------
    `~astropy.units.Quantity`
        In Angstrom.
    """
    name = str(filter_name).strip().upper()
    if method == 'pivot':
        try:
            return PIVOT_WAVELENGTHS[name].to(u.AA)
        except KeyError:
            raise AcsFlecksError(f'no pivot wavelength known for filter '
                                 f'{filter_name!r}') from None
    if method != 'lamp':
        raise AcsFlecksError(f"method must be 'pivot' or 'lamp', got {method!r}")
    if throughput is None:
        raise AcsFlecksError("method='lamp' needs a throughput curve "
                             '(wavelength, throughput)')
    wave, thr = throughput
    wave = u.Quantity(wave, u.AA)
    thr = np.asarray(thr, dtype=float)
    if wave.shape != thr.shape or wave.size < 2:
        raise AcsFlecksError('throughput wavelength and values must be '
                             'arrays of the same length (>= 2)')
    bb = BlackBody(temperature=lamp_temperature)
    flam = bb(wave).value  # only the shape matters
    w = wave.value
    num = np.trapezoid(w * w * thr * flam / w ** 2, w)
    den = np.trapezoid(w * thr * flam / w ** 2, w)
    if den <= 0:
        raise AcsFlecksError(f'throughput of {filter_name} is zero everywhere')
    return (num / den) * u.AA
