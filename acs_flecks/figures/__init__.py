"""
The instrument report's image figures, one module per report section,
drawn with `matplotlib.figure.Figure` (no pyplot):

* ``acs_flecks.figures.discovery``: the flecks in flashed and un-flashed
  darks (§2-§3, Figures 1-4);
* ``acs_flecks.figures.shadow``: the shadow and empty boxes (§5, Figure 8);
* ``acs_flecks.figures.monitoring``: new flecks and stable artifacts
  (§7, Figure 18);
* ``acs_flecks.figures.chip_images``: a chip region drawn as the report
  draws it (`chip_region`, the red square);
* ``acs_flecks.figures.report_flecks``: the report's flecks
  (`REPORT_FLECKS`, `fleck_table`).

The characterization plots (Figures 5-7, 9-17) are
`acs_flecks.plotting.characterize`; the driver that draws all 18 figures and
writes their index page is `acs_flecks.html.regenerate_figures`.

>>> from acs_flecks.figures import plot_flecks
>>> fig = plot_flecks('dkc.fits')                      # doctest: +SKIP
"""

from . import chip_images, discovery, monitoring, report_flecks, shadow
from .chip_images import *  # noqa: F401,F403
from .discovery import *  # noqa: F401,F403
from .monitoring import *  # noqa: F401,F403
from .report_flecks import *  # noqa: F401,F403
from .shadow import *  # noqa: F401,F403

__all__ = (report_flecks.__all__ + chip_images.__all__ + discovery.__all__
           + shadow.__all__ + monitoring.__all__)
