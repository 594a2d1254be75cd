"""
acs_flecks: particles ("flecks") on the ACS/WFC CCDs.

Turns the ACS instrument report on the three flecks that appeared on
2017-05-05 into software: detection (§7), monitoring across anneal cycles
(§2, §3), characterization (§4-§6) and delivery of an updated bad-pixel
table (§8).

The names of `acs_flecks.coords`, `acs_flecks.exceptions`,
`acs_flecks.filters` and `acs_flecks.io` are available here, and the TEAL
task's ``__taskname__``, ``run`` and ``getHelpAsString``; they are imported
on first use (PEP 562), so that ``import acs_flecks`` (and the command line's
start-up) does not pay for astropy and numpy until something needs them.
"""

import importlib
import importlib.util

try:
    from ._version import version as __version__
except ImportError:  # pragma: no cover
    __version__ = '0.0.0'

#: Modules whose ``__all__`` the package re-exports, in lookup order.
_REEXPORTED = ('coords', 'exceptions', 'filters', 'io')

# TEAL task "acs_flecks" (CONVENTIONS §5): teal.load('acs_flecks') attaches
# this package, so the task's run/getHelpAsString/__taskname__ live here.
_TEAL_NAMES = ('__taskname__', 'getHelpAsString', 'run')


def _all_names():
    names = list(_TEAL_NAMES)
    for module in _REEXPORTED:
        names.extend(importlib.import_module(f'.{module}', __name__).__all__)
    return names


def __getattr__(name):
    if name == '__all__':
        value = _all_names()
    elif name in _TEAL_NAMES:
        value = getattr(importlib.import_module('.teal_task', __name__), name)
    elif not name.startswith('__') and \
            importlib.util.find_spec(f'{__name__}.{name}') is not None:
        # a sub-package or module (``from acs_flecks import detect``)
        return importlib.import_module(f'.{name}', __name__)
    else:
        for module in _REEXPORTED:
            mod = importlib.import_module(f'.{module}', __name__)
            if name in mod.__all__:
                value = getattr(mod, name)
                break
        else:
            raise AttributeError(
                f'module {__name__!r} has no attribute {name!r}')
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_all_names()))
