"""
Detection of dark artifacts (flecks, freckles) in flashed darks: the
report's §7 search, exact and fast; and the new-artifact search by
comparison with earlier epochs (`acs_flecks.detect.difference`).

The names of the sub-modules' ``__all__`` are available here; each
sub-module is imported on first use (PEP 562), so that ``acs_flecks find``
imports the search without the new-artifact search, and the catalogue's
astropy.table while the chips are being searched
(`acs_flecks.preload`), not before.

>>> from acs_flecks.detect import find_artifacts, write_catalog  # doctest: +SKIP
>>> cat = find_artifacts('dkc.fits')                              # doctest: +SKIP
>>> write_catalog(cat, 'artifacts.ecsv')                          # doctest: +SKIP
"""

import importlib
import importlib.util

#: Sub-modules whose ``__all__`` the package re-exports, in lookup order
#: (no name is in two; the new-artifact search last, so that looking up a
#: name of the §7 search does not import it).
_SUBMODULES = ('finder', 'catalog', 'medfilt', 'normalize', 'segmentation',
               'deblend', 'footprint', 'difference')


def _all_names():
    names = []
    for module in _SUBMODULES:
        names.extend(importlib.import_module(f'.{module}', __name__).__all__)
    return names


def __getattr__(name):
    if name == '__all__':
        value = _all_names()
    elif not name.startswith('__') and \
            importlib.util.find_spec(f'{__name__}.{name}') is not None:
        # a sub-module (``acs_flecks.detect.sextractor``), as in the
        # top-level package
        return importlib.import_module(f'.{name}', __name__)
    else:
        for module in _SUBMODULES:
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
