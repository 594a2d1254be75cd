"""
Default parameters shared by the library and the command line.

Plain Python constants with no imports, so that the command line can show
them in ``--help`` without importing the scientific stack (see
`acs_flecks.cli`).  The modules that use them import them from here: this
is their one definition.  The DQ masks are in `acs_flecks.dq`.

>>> from acs_flecks.defaults import DEFAULT_TOLERANCE
>>> DEFAULT_TOLERANCE
3.0
"""

__all__ = ['DEFAULT_TOLERANCE', 'DEFAULT_CHANGE_NSIGMA',
           'COMBINE_RULES', 'DATE_OF_ORIGIN', 'SCENARIOS', 'KINDS']

#: Default cross-match radius of the monitor, in pixels.  The centroid of a
#: median-filtered deficit segment jitters by a few tenths of a pixel
#: between epochs and the report's EPER comparison shows sub-pixel motion,
#: so 3 pixels is safely above that and well below the spacing of the
#: freckles.
DEFAULT_TOLERANCE = 3.0

#: Default threshold (in units of the uncertainty) of the monitor's
#: ``changed`` test.
DEFAULT_CHANGE_NSIGMA = 5.0

#: Rules for combining the per-filter transmissivity maps into bad pixels.
COMBINE_RULES = ('bluest', 'mean', 'min')

#: The date the three flecks appeared (report §2).
DATE_OF_ORIGIN = '2017-05-05'

#: Simulation scenario names.
SCENARIOS = ('discovery', 'population', 'blank', 'lifetime')

#: Simulated file kinds, in the order they are written.
KINDS = ('dkc', 'dark', 'daily', 'flat', 'eper')
