"""
Synthetic ACS/WFC calibration files with known truth.

Real WFC calibration data cannot be downloaded here, so this sub-package is
both the demo data and the test suite's source of truth: full-frame (or
windowed) two-chip files in the real layout -- combined short flashed darks
(DKC) per anneal cycle, un-flashed darks, lamp flats and EPER lamp images --
with ~100 stable freckles and the report's three flecks (appearing on
2017-05-05), and the truth (positions, sizes, transmissivity maps) written
next to them.

>>> from acs_flecks.simulate import simulate_scenario
>>> res = simulate_scenario('discovery', 'sim', seed=1, window=200,
...                         kinds=['dkc'])                  # doctest: +SKIP
>>> res.files['path', 'epoch'][:2]                          # doctest: +SKIP
>>> tmap, (x0, y0) = res.truth.transmissivity_map(
...     'fleck1', 'F435W')                                   # doctest: +SKIP
"""

from .artifacts import *  # noqa: F401,F403
from .core import *  # noqa: F401,F403
from .detector import *  # noqa: F401,F403
from .files import *  # noqa: F401,F403
from .images import *  # noqa: F401,F403
from .scenarios import *  # noqa: F401,F403
from .truth import *  # noqa: F401,F403

from . import artifacts, core, detector, files, images, scenarios, truth

__all__ = (['simulate_scenario', 'check_kinds', 'SimulationResult',
            'SimulationTruth'] + artifacts.__all__ + detector.__all__ +
           files.__all__ + images.__all__ + scenarios.__all__ +
           ['MAP_FILTERS'])
__all__ = list(dict.fromkeys(__all__))
