"""
Exceptions and warnings raised by acs_flecks.

Every error a user can cause with bad input derives from `AcsFlecksError`;
the command line turns it into one line on stderr and exit status 2.
`AcsFlecksError` is a `ValueError` (a bad value given to a function, as in
astropy and photutils), so ``except ValueError`` around a call of the
library catches its parameter and input errors too.
Warnings derive from `AcsFlecksWarning`, itself an
`~astropy.utils.exceptions.AstropyUserWarning`, as in photutils.
"""

from astropy.utils.exceptions import AstropyUserWarning

__all__ = ['AcsFlecksError', 'InputFileError', 'ReferenceFileError',
           'CRDSLookupError', 'HistoryDatabaseError', 'CertificationError',
           'AcsFlecksWarning', 'NotFlashedWarning', 'SkippedFileWarning',
           'ExcludedPixelsWarning', 'FlashStatusWarning', 'BpixtabWarning']


class AcsFlecksError(ValueError):
    """
    Base class of the errors caused by bad input or configuration.

    A subclass of `ValueError`: code that catches ``ValueError`` to handle a
    bad value also catches these.  Inside the package, a handler that turns
    a ``ValueError`` of another library into an `AcsFlecksError` re-raises
    an `AcsFlecksError` from its ``try`` body unchanged (tested).

    Parameters
    ----------
    message : str
        What is wrong.
    path : str or path-like, optional
        The file the problem is in; it is prefixed to the message.
    """

    def __init__(self, message, *, path=None):
        self.path = None if path is None else str(path)
        self.problem = message
        super().__init__(message if path is None else f'{path}: {message}')


class InputFileError(AcsFlecksError):
    """An input image is unreadable, not ACS, or not usable here."""


class ReferenceFileError(AcsFlecksError):
    """A reference file (e.g. a bpixtab) is unusable."""


class CRDSLookupError(AcsFlecksError):
    """A reference file could not be located (no path, cache or server)."""


class HistoryDatabaseError(AcsFlecksError):
    """The monitoring history database is unusable."""


class CertificationError(AcsFlecksError):
    """A written reference file failed certification."""


class AcsFlecksWarning(AstropyUserWarning):
    """Base class of the warnings issued by acs_flecks."""


class NotFlashedWarning(AcsFlecksWarning):
    """An image that should be post-flashed is not: particles are invisible."""


class SkippedFileWarning(AcsFlecksWarning):
    """A file among many was skipped (the run goes on)."""


class ExcludedPixelsWarning(AcsFlecksWarning):
    """Pixels were excluded from a measurement (DQ-flagged, saturated)."""


class FlashStatusWarning(AcsFlecksWarning):
    """No ``FLASHSTA`` keyword: the post-flash status is decided from
    ``FLASHDUR`` (combined darks written by scripts may lack it)."""


class BpixtabWarning(AcsFlecksWarning):
    """A bad-pixel table lacks something CALACS needs (it was added), or a
    delivery's USEAFTER is before its reference's."""
