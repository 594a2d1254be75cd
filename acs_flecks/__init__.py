"""
acs_flecks: particles ("flecks") on the ACS/WFC CCDs.

Turns the ACS instrument report on the three flecks that appeared on
2017-05-05 into software: detection (§7), monitoring across anneal cycles
(§2, §3), characterization (§4-§6) and delivery of an updated bad-pixel
table (§8).
"""

try:
    from ._version import version as __version__
except ImportError:  # pragma: no cover
    __version__ = '0.0.0'

from .coords import *  # noqa: F401,F403
from .exceptions import *  # noqa: F401,F403
from .filters import *  # noqa: F401,F403
from .io import *  # noqa: F401,F403

# TEAL task "acs_flecks" (CONVENTIONS §5): teal.load('acs_flecks') attaches
# this package, so the task's run/getHelpAsString/__taskname__ live here.
from .teal_task import __taskname__, getHelpAsString, run  # noqa: E402,F401
