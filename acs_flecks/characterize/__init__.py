"""
Characterization of flecks (report §4-§6): per-filter transmissivity and its
"SED", the master aperture, pixels under 50 % (input of the bad-pixel
table), LED vs lamp apertures, EPER epoch ratios and motion, and the shadow
trail in short darks.

>>> from acs_flecks.characterize import measure_transmissivity, bad_pixels  # doctest: +SKIP
>>> res = measure_transmissivity(flats, ccdchip=2, x=1521, y=1773)  # doctest: +SKIP
>>> res.to_table()                                                  # doctest: +SKIP
>>> bad_pixels(res, fleck_id='fleck1')                              # doctest: +SKIP
"""

from .badpix import *  # noqa: F401,F403
from .cutouts import *  # noqa: F401,F403
from .eper import *  # noqa: F401,F403
from .fleck import *  # noqa: F401,F403
from .ledlamp import *  # noqa: F401,F403
from .shadow import *  # noqa: F401,F403
from .shifts import *  # noqa: F401,F403
from .transmissivity import *  # noqa: F401,F403
from .wavelengths import *  # noqa: F401,F403

from . import (badpix, cutouts, eper, fleck, ledlamp, shadow, shifts,  # noqa: E402
               transmissivity, wavelengths)

__all__ = (badpix.__all__ + cutouts.__all__ + eper.__all__ + fleck.__all__
           + ledlamp.__all__ + shadow.__all__ + shifts.__all__
           + transmissivity.__all__ + wavelengths.__all__)
