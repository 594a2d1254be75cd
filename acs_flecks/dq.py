"""
ACS data-quality (DQ) flags and the DQ policy of every analysis.

This module is the one place where DQ bit values are written down.  Every
other module of the package names a flag or a mask from here.

**The flags.**  The names are those of hstcal ``pkg/acs/include/acsdq.h``
(spacetelescope/hstcal, read at commit ``5c1c177``), the header CALACS
itself compiles against::

    # define GOODPIXEL         0    /* OK */
    # define SOFTERR           1    /* Reed-Solomon decoding error */
    # define DATALOST          2    /* data replaced by fill value */
    # define DETECTORPROB      4    /* bad detector pixel or beyond aperture */
    # define DATAMASKED        8    /* masked by occulting bar */
    # define HOTPIX           16    /* hot pixel */
    # define LARGEBLEM        32    /* large blemish */
    /* # define TBD           64    */
    # define OVERSCAN        128    /* can be used for finding bias level */
    # define SATPIXEL        256    /* full-well saturated pixel */
    # define CALIBDEFECT     512    /* bad pixel in reference file */
    # define SMALLBLEM      1024    /* small blemish */
    # define ATODSAT        2048    /* a-to-d saturated pixel */
    /* # define TBD         4096    */
    # define DATAREJECT     8192    /* rejected during image combination */

Two bits have no name there although ACS data use them: 64 (warm pixels,
set through the bad-pixel and dark references) and 4096 (reserved for the
drizzle cosmic-ray flag).  They take the names of the sister header
``pkg/wfc3/include/wf3dq.h`` (``WARMPIX``) or of that header's comment
("reserved for Multidrizzle CR rej": ``DRIZZLECR``).  CALACS's own sink-pixel
step (``pkg/acs/lib/acsccd/dosink.c``, SINKCORR) writes 1024 under the
local name ``SINKPIXEL`` -- on the sink pixel, on its downstream neighbour
and on the upstream trail pixels that are lower than the sink -- so
`SINKPIXEL` is an alias of `SMALLBLEM`.

**The masks.**  A mask is the OR of the flags whose pixels an analysis
leaves out.  Each mask below is built from the names, and the comment above
it gives the reason for every flag in it and for every flag left out.  The
reasons are tabulated in the documentation (``docs/dq.rst``).

Flag 4 (`DETECTORPROB`) is never masked by an analysis that looks at the
flecks: it is the flag this package writes for fleck pixels (report §8), so
once the new bad-pixel table is in use the flecks themselves carry it.

Standard library only (no numpy), so that the command line can show the
defaults in ``--help`` without importing the scientific stack.

>>> from acs_flecks import dq
>>> dq.DEFAULT_MASK_FLAGS & dq.DETECTORPROB
0
>>> dq.flag_values(dq.DARK_DQ_MASK)
[1, 2, 16, 64, 256, 512, 1024, 2048, 8192]
"""

__all__ = [
    # flags (acsdq.h names)
    'GOODPIXEL', 'SOFTERR', 'DATALOST', 'DETECTORPROB', 'DATAMASKED',
    'HOTPIX', 'LARGEBLEM', 'WARMPIX', 'OVERSCAN', 'SATPIXEL', 'CALIBDEFECT',
    'SMALLBLEM', 'SINKPIXEL', 'ATODSAT', 'DRIZZLECR', 'DATAREJECT',
    'FLECK_FLAG', 'ACS_FLAGS', 'ALL_FLAGS',
    # masks
    'DEFAULT_MASK_FLAGS', 'DIFFERENCE_DQ_MASK', 'DEFAULT_DQ_MASK',
    'DARK_DQ_MASK', 'LIGHTPATH_DQ_MASK',
    # helpers
    'flag_values', 'flag_names',
]

# ---------------------------------------------------------------- flags --

#: No flag.
GOODPIXEL = 0
#: Reed-Solomon decoding error (telemetry).
SOFTERR = 1
#: Data replaced by the fill value (lost in telemetry).
DATALOST = 2
#: Bad detector pixel or beyond the aperture: the value of the bad-pixel
#: table (BPIXTAB), and what this package writes for fleck pixels.
DETECTORPROB = 4
#: Masked by the occulting bar / finger (an aperture feature; HRC).
DATAMASKED = 8
#: Hot pixel (dark current above the hot threshold).
HOTPIX = 16
#: "Large blemish" in acsdq.h; ACS/WFC references use it for unstable
#: pixels.
LARGEBLEM = 32
#: Warm pixel (not named in acsdq.h; ``WARMPIX`` in wf3dq.h).
WARMPIX = 64
#: "Can be used for finding bias level" in acsdq.h; ACS/WFC references use
#: it for bias structure.
OVERSCAN = 128
#: Full-well saturated pixel.
SATPIXEL = 256
#: Bad pixel in a reference file.
CALIBDEFECT = 512
#: "Small blemish" in acsdq.h: the sink-pixel flag on ACS/WFC.
SMALLBLEM = 1024
#: Sink pixel and its trail (``SINKPIXEL`` in hstcal ``acsccd/dosink.c``).
SINKPIXEL = SMALLBLEM
#: A-to-D saturated pixel (raw value 65535).
ATODSAT = 2048
#: Cosmic ray flagged by (Astro)Drizzle (reserved, unnamed in acsdq.h).
DRIZZLECR = 4096
#: Rejected during image combination (ACSREJ: rejected in every input).
DATAREJECT = 8192

#: The flag this package writes into the bad-pixel table for fleck pixels
#: (report §8).
FLECK_FLAG = DETECTORPROB

#: Every flag ACS data carry, in bit order (acsdq.h plus 64 and 4096).
ACS_FLAGS = (SOFTERR, DATALOST, DETECTORPROB, DATAMASKED, HOTPIX, LARGEBLEM,
             WARMPIX, OVERSCAN, SATPIXEL, CALIBDEFECT, SMALLBLEM, ATODSAT,
             DRIZZLECR, DATAREJECT)

#: OR of `ACS_FLAGS` (16383).
ALL_FLAGS = 0
for _flag in ACS_FLAGS:
    ALL_FLAGS |= _flag
del _flag

_NAMES = {SOFTERR: 'SOFTERR', DATALOST: 'DATALOST',
          DETECTORPROB: 'DETECTORPROB', DATAMASKED: 'DATAMASKED',
          HOTPIX: 'HOTPIX', LARGEBLEM: 'LARGEBLEM', WARMPIX: 'WARMPIX',
          OVERSCAN: 'OVERSCAN', SATPIXEL: 'SATPIXEL',
          CALIBDEFECT: 'CALIBDEFECT', SMALLBLEM: 'SMALLBLEM',
          ATODSAT: 'ATODSAT', DRIZZLECR: 'DRIZZLECR',
          DATAREJECT: 'DATAREJECT'}

# ---------------------------------------------------------------- masks --

#: Detection (report §7 search; `acs_flecks.detect.finder`, the monitor's
#: searches and ``acs_flecks find --mask-flags``): every ACS flag except
#: `DETECTORPROB`.  The masked pixels are replaced by the smooth local level
#: before the median filter, so no flagged pixel can make or distort an
#: artifact: telemetry errors and fill (1, 2), masked (8), hot / unstable /
#: warm (16, 32, 64: dark current, bright in short darks), bias structure
#: (128), saturation (256, 2048), bad reference pixel (512), sink pixels and
#: their trails (1024: low values that are charge traps, exactly like a
#: fleck's deficit), cosmic rays (4096, 8192).  4 is kept: the flecks carry
#: it once the new bad-pixel table is in use, and a search that treated it
#: as missing data would stop seeing the artifacts it monitors.
DEFAULT_MASK_FLAGS = ALL_FLAGS & ~DETECTORPROB

#: Difference search (`acs_flecks.detect.difference`, an epoch divided by
#: the median of reference epochs): masked on both sides of the ratio, for
#: the detection's reasons; sink pixels (1024) matter most here because new
#: ones appear between epochs and look like a new deficit in the ratio.
#: 4 is kept: a stable flagged fleck still cancels in the ratio.
DIFFERENCE_DQ_MASK = ALL_FLAGS & ~DETECTORPROB

#: Apertures in lamp flats and EPER images: the cutouts, the transmissivity
#: apertures and photometry (report §6.1), the EPER epoch ratios (§4)
#: (`acs_flecks.characterize.cutouts`, ``transmissivity``, ``eper``).
#: Masked: pixels whose value is not a measurement -- telemetry errors and
#: fill (1, 2), saturation (256, 2048), bad reference pixel (512), rejected
#: in every ACSREJ input (8192, SCI is the sky value) -- and sink pixels with
#: their trails (1024): they are low in every image taken after they
#: appear, so in a background-normalized cutout they block light like a
#: fleck does (next to a fleck they would join its >5 % aperture, lower its
#: transmissivity and become DQ 4 pixels of the new table), and in an epoch
#: ratio a sink that appeared between the epochs mimics new blocking or
#: motion.  CALACS's SINKCORR flags them in every science image, so nothing
#: is lost by leaving them out of the fleck.  Not masked: 4 (the fleck pixels carry it), hot /
#: unstable / warm (16, 32, 64: dark current is subtracted and negligible in
#: lamp flats), 8 (HRC only), 128 (bias structure, subtracted), 4096
#: (drizzle products are not measured).
DEFAULT_DQ_MASK = (SOFTERR | DATALOST | SATPIXEL | CALIBDEFECT | SMALLBLEM
                   | ATODSAT | DATAREJECT)

#: Post-flashed darks: the LED aperture (report §6.2,
#: `acs_flecks.characterize.ledlamp`) and the shadow boxes (§5,
#: `acs_flecks.characterize.shadow`).  The aperture mask (`DEFAULT_DQ_MASK`,
#: sink pixels included: a sink trail runs along the readout direction,
#: exactly where the shadow box sits, and would mimic the shadow; in the
#: empty box it would mimic a negative shadow) plus hot (16) and warm (64)
#: pixels: a dark's own dark current is the signal here.  Pixels left out
#: of a box are counted and the sum of the others scaled to the box area.
DARK_DQ_MASK = DEFAULT_DQ_MASK | HOTPIX | WARMPIX

#: Light path test (report §3, `acs_flecks.monitor.lightpath`): hot,
#: unstable and warm (16, 32, 64: dark current is the un-flashed image's
#: signal), saturation (256, 2048), bad reference (512), ACSREJ-rejected
#: (8192).  Sink pixels (1024) are deliberately **not** masked: the test
#: tells a particle (deficit gone without illumination) from a CCD defect
#: (deficit in both), and a sink pixel is such a defect -- masking it would
#: turn a "CCD defect" verdict into "not detected".  4 is kept (the flecks
#: carry it).  1 and 2 (telemetry errors, fill) are not masked: such a
#: pixel is low in both images, which gives the cautious verdict ("CCD
#: defect", never "light path"); 8 is HRC only, 128 is subtracted bias
#: structure, 4096 is set only in drizzled products.
LIGHTPATH_DQ_MASK = (HOTPIX | LARGEBLEM | WARMPIX | SATPIXEL | CALIBDEFECT
                     | ATODSAT | DATAREJECT)


# -------------------------------------------------------------- helpers --

def flag_values(value):
    """
    The single-bit flags set in a DQ value, in bit order.

    Parameters
    ----------
    value : int
        A DQ value or mask (0-65535).

    Returns
    -------
    list of int

    Examples
    --------
    >>> flag_values(1024 | 4)
    [4, 1024]
    """
    value = int(value)
    return [1 << b for b in range(16) if value & (1 << b)]


def flag_names(value):
    """
    The acsdq.h names of the flags set in a DQ value.

    Bits that ACS does not use (16384, 32768) are given as numbers.

    Parameters
    ----------
    value : int

    Returns
    -------
    list of str

    Examples
    --------
    >>> flag_names(DARK_DQ_MASK & ~DEFAULT_DQ_MASK)
    ['HOTPIX', 'WARMPIX']
    """
    return [_NAMES.get(f, str(f)) for f in flag_values(value)]
