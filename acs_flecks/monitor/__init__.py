"""
Monitoring across anneal cycles (report §2, §3, §7).

* `monitor_epochs`: search every epoch, keep the history in SQLite
  (`HistoryDatabase`), cross-match and classify artifacts (stable, new with
  the date-of-origin bracket, vanished, changed); Dask for many epochs.
* `update_difference_search`: the new-artifact search (each epoch against
  the median of the preceding ones, issue #15) for every epoch of a history.
* `lightpath_test`: flashed vs un-flashed darks -- particle in the light
  path or CCD defect.
"""

from .classify import *  # noqa: F401,F403
from .core import *  # noqa: F401,F403
from .crossmatch import *  # noqa: F401,F403
from .history import *  # noqa: F401,F403
from .lightpath import *  # noqa: F401,F403
from .newsearch import *  # noqa: F401,F403
from .parallel import *  # noqa: F401,F403

from . import classify as _c, core as _co, crossmatch as _x, \
    history as _h, lightpath as _l, newsearch as _n, parallel as _p

__all__ = (_c.__all__ + _co.__all__ + _x.__all__ + _h.__all__ + _l.__all__
           + _n.__all__ + _p.__all__)
