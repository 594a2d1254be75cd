"""
Detection of dark artifacts (flecks, freckles) in flashed darks: the
report's §7 search, exact and fast; and the new-artifact search by
comparison with earlier epochs (`acs_flecks.detect.difference`).

>>> from acs_flecks.detect import find_artifacts, write_catalog  # doctest: +SKIP
>>> cat = find_artifacts('dkc.fits')                              # doctest: +SKIP
>>> write_catalog(cat, 'artifacts.ecsv')                          # doctest: +SKIP
"""

from . import (catalog, deblend, difference, finder, footprint, medfilt,
               normalize, segmentation)
from .catalog import *  # noqa: F401,F403
from .deblend import *  # noqa: F401,F403
from .difference import *  # noqa: F401,F403
from .finder import *  # noqa: F401,F403
from .footprint import *  # noqa: F401,F403
from .medfilt import *  # noqa: F401,F403
from .normalize import *  # noqa: F401,F403
from .segmentation import *  # noqa: F401,F403

__all__ = (catalog.__all__ + deblend.__all__ + difference.__all__
           + finder.__all__ + footprint.__all__ + medfilt.__all__
           + normalize.__all__ + segmentation.__all__)
