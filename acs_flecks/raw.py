"""
Raw ACS CCD frames (``_raw``): bias from the physical prescan, DN to
electrons, trim to the reference frame.

The report's EPER analysis (§4) starts from raw images: "We first remove a
constant bias level, measured from the physical prescan, from each raw EPER
image."  A raw WFC chip (hstcal ``acsccd``: ``doccd.c``, ``findover.c``,
``blev_funcs_postsm4.c``) is 2068 rows x 4144 columns of uint16 DN (stored
as int16 with ``BZERO = 32768``, ``BUNIT = 'COUNTS'``): 24 physical prescan
columns at each end of every row (``LTV1 = 24``), the left half of the row
read by one amplifier (A on WFC1 = ``CCDCHIP 1``, C on WFC2) and the right
half by another (B, D), each with its own bias level and gain, and 20 rows
of virtual overscan, at low y on ``CCDCHIP 1`` (``LTV2 = 20``) and at high y
on ``CCDCHIP 2`` (``LTV2 = 0``).  ERR and DQ are constant "null" extensions
(``NAXIS = 0``, ``PIXVALUE``).

`RawFrame` turns such a chip into what the rest of the package reads from a
calibrated file, per amplifier:

* **bias level**: the 3-sigma-clipped mean of the **six prescan columns
  next to the imaging area** (raw columns 19-24 for A/C and 4121-4126 for
  B/D, over all rows).  The first 18 prescan columns after each row shift
  decay quasi-exponentially to the nominal level (ACS Data Handbook §4.2),
  so they would bias the level high; the clipping removes cosmic rays and
  hot pixels that land in the serial register.
* **gain**: ``ATODGN<amp>`` when it is non-zero, else the nominal
  ``CCDGAIN`` (raw files carry zero ``ATODGN*`` placeholders that CALACS
  fills from CCDTAB).
* **read noise** (e-): ``READNSE<amp>`` when non-zero, else the robust
  scatter of the same prescan pixels times the gain.
* electrons = (DN - bias) x gain on the amplifier's half of the chip;
  ERR = sqrt(max(electrons, 0) + read noise^2) (Poisson + read noise);
  DQ 2048 (A-to-D saturation) where the raw value is 65535.
* the prescan columns and the virtual overscan rows are trimmed through
  ``LTV1``/``LTV2`` (chip x = image column - LTV1), so the chip is 2048 x
  4096 with ``LTV1 = LTV2 = 0`` (a sub-array keeps its own offset).

A file is raw when its SCI is in ``COUNTS`` and extends outside the active
area of the chip (prescan or overscan present).  `acs_flecks.io.ACSImage`
detects that and reads raw chips through this module, so every command that
takes lamp or dark images accepts raw WFC files.

>>> from acs_flecks.io import ACSImage                      # doctest: +SKIP
>>> img = ACSImage('jd0q01abq_raw.fits')                     # doctest: +SKIP
>>> img.is_raw, img.shape                                    # doctest: +SKIP
(True, (2048, 4096))
>>> img.raw.amplifiers(1)                                    # doctest: +SKIP
[AmpCalibration(amp='A', bias_dn=2204.1, gain=2.0, ...), ...]
"""

import logging
import os
from dataclasses import dataclass

import numpy as np
from astropy.io import fits
from astropy.stats import sigma_clipped_stats

from .dq import ATODSAT
from .exceptions import InputFileError

__all__ = ['RawFrame', 'AmpCalibration', 'is_raw_layout', 'ACTIVE_SHAPE',
           'PRESCAN_COLUMNS', 'VIRTUAL_OVERSCAN_ROWS', 'BIAS_COLUMNS',
           'CHIP_AMPS', 'DQ_ATODSAT']

log = logging.getLogger(__name__)

#: Active (trimmed) chip shape (rows, columns) per detector.
ACTIVE_SHAPE = {'WFC': (2048, 4096), 'HRC': (1024, 1024)}

#: Physical prescan columns at each end of a raw WFC row.
PRESCAN_COLUMNS = 24

#: Virtual overscan rows of a raw WFC chip.
VIRTUAL_OVERSCAN_ROWS = 20

#: Prescan columns next to the imaging area used for the bias level (the
#: first 18 of the 24 decay towards the nominal level after each row shift).
BIAS_COLUMNS = 6

#: Amplifiers reading the (left, right) half of each WFC chip.
CHIP_AMPS = {1: ('A', 'B'), 2: ('C', 'D')}

#: DQ flag of A-to-D saturation (`acs_flecks.dq.ATODSAT`, hstcal acsdq.h).
DQ_ATODSAT = ATODSAT

_ATOD_MAX = 65535


@dataclass(frozen=True)
class AmpCalibration:
    """
    What `RawFrame` measured and used for one amplifier.

    Attributes
    ----------
    amp : str
        'A', 'B', 'C' or 'D'.
    bias_dn : float
        Bias level (DN) from the prescan.
    bias_err_dn : float
        Its standard error (DN).
    gain : float
        e-/DN used.
    gain_source : str
        ``'ATODGN<amp>'`` or ``'CCDGAIN'``.
    read_noise : float
        e- used in ERR.
    read_noise_source : str
        ``'READNSE<amp>'`` or ``'prescan'``.
    npix : int
        Prescan pixels used for the bias after clipping.
    columns : tuple of int
        1-indexed raw columns (first, last) of the bias section.
    """

    amp: str
    bias_dn: float
    bias_err_dn: float
    gain: float
    gain_source: str
    read_noise: float
    read_noise_source: str
    npix: int
    columns: tuple


def _card(header, key, default=None):
    value = header.get(key, default)
    return value.strip() if isinstance(value, str) else value


def _active_span(n, ltv, size):
    """0-indexed [start, stop) of the image pixels whose chip coordinate
    (index + 1 - ltv) lies in 1..size."""
    return max(int(ltv), 0), min(int(ltv) + size, n)


def is_raw_layout(primary, sci_header):
    """
    True if a SCI extension is a raw CCD frame: ``BUNIT = 'COUNTS'`` and
    pixels outside the detector's active area (prescan columns or overscan
    rows, from ``LTV1``/``LTV2`` and ``NAXIS1``/``NAXIS2``).
    """
    det = _card(primary, 'DETECTOR')
    if det not in ACTIVE_SHAPE:
        return False
    if str(_card(sci_header, 'BUNIT', '') or '').upper() != 'COUNTS':
        return False
    ny_act, nx_act = ACTIVE_SHAPE[det]
    nx, ny = int(sci_header.get('NAXIS1', 0)), int(sci_header.get('NAXIS2', 0))
    ltv1 = int(round(float(sci_header.get('LTV1', 0.0))))
    ltv2 = int(round(float(sci_header.get('LTV2', 0.0))))
    return ltv1 > 0 or ltv2 > 0 or nx - ltv1 > nx_act or ny - ltv2 > ny_act


class RawFrame:
    """
    Calibration of the raw chips of one file (see the module docstring).

    Parameters
    ----------
    path : str
        The raw file.
    primary : `~astropy.io.fits.Header`
        Its primary header.
    chips : dict
        ccdchip -> dict(SCI=HDU index, ERR=..., DQ=..., header=SCI header)
        as `acs_flecks.io.ACSImage` maps them.

    Raises
    ------
    acs_flecks.exceptions.InputFileError
        An amplifier without prescan columns in the image, no usable gain,
        or an unsupported readout (``CCDAMP``).
    """

    def __init__(self, path, primary, chips):
        self.path = os.fspath(path)
        self.primary = primary
        self.detector = _card(primary, 'DETECTOR')
        self._chips = {}
        for ccdchip, entry in chips.items():
            self._chips[int(ccdchip)] = self._layout(int(ccdchip), entry)
        self._cal = {}

    # -- geometry -----------------------------------------------------------
    def _amps(self, ccdchip):
        ccdamp = str(_card(self.primary, 'CCDAMP', '') or '').upper()
        if self.detector == 'WFC':
            halves = CHIP_AMPS[ccdchip] if ccdchip in CHIP_AMPS else None
            if halves is None:
                raise InputFileError(f'raw WFC chip with CCDCHIP={ccdchip}',
                                     path=self.path)
            if len(ccdamp) == 1 and ccdamp in 'ABCD':
                # one amplifier reads the whole chip
                return (ccdamp, ccdamp)
            if ccdamp not in ('', 'ABCD'):
                raise InputFileError(
                    f'raw readout CCDAMP={ccdamp!r} is not supported (need '
                    "'ABCD' or one amplifier)", path=self.path)
            return halves
        amp = ccdamp[:1] if ccdamp else 'C'
        return (amp, amp)

    def _layout(self, ccdchip, entry):
        h = entry['header']
        ny_act, nx_act = ACTIVE_SHAPE[self.detector]
        ny, nx = int(h.get('NAXIS2', 0)), int(h.get('NAXIS1', 0))
        ltv1 = int(round(float(h.get('LTV1', 0.0))))
        ltv2 = int(round(float(h.get('LTV2', 0.0))))
        c0, c1 = _active_span(nx, ltv1, nx_act)
        r0, r1 = _active_span(ny, ltv2, ny_act)
        if c1 <= c0 or r1 <= r0:
            raise InputFileError(
                f'raw chip CCDCHIP={ccdchip} ({nx}x{ny}, LTV1={ltv1}, '
                f'LTV2={ltv2}) has no pixels in the active area',
                path=self.path)
        left, right = self._amps(ccdchip)
        # 0-indexed image columns of each amplifier's bias section: the
        # BIAS_COLUMNS prescan columns next to the imaging area
        sect = {}
        lo = np.arange(ltv1 - BIAS_COLUMNS, ltv1)
        hi = np.arange(ltv1 + nx_act, ltv1 + nx_act + BIAS_COLUMNS)
        lo, hi = lo[(lo >= 0) & (lo < nx)], hi[(hi >= 0) & (hi < nx)]
        if left == right:
            sect[left] = np.concatenate([lo, hi])
        else:
            sect[left], sect[right] = lo, hi
        # chip column (0-indexed, trimmed frame) where the right amp starts
        split = nx_act // 2 if left != right else nx_act
        half = {}
        xs = np.arange(c0, c1) - ltv1          # 0-indexed chip columns
        half[left] = (xs < split)
        if right != left:
            half[right] = (xs >= split)
        for amp, cols in sect.items():
            if half[amp].any() and cols.size == 0:
                raise InputFileError(
                    f'raw chip CCDCHIP={ccdchip}: amplifier {amp} reads part '
                    f'of the image but none of its prescan columns is in the '
                    f'file (LTV1={ltv1}, NAXIS1={nx}): no bias level',
                    path=self.path)
        trimmed = h.copy()
        trimmed['BUNIT'] = ('ELECTRONS', 'raw DN - prescan bias, x gain')
        trimmed['LTV1'] = float(ltv1 - c0)
        trimmed['LTV2'] = float(ltv2 - r0)
        trimmed['NAXIS1'] = c1 - c0
        trimmed['NAXIS2'] = r1 - r0
        return dict(entry=dict(entry), rows=slice(r0, r1), cols=slice(c0, c1),
                    sect=sect, half=half, ltv=(ltv1, ltv2), header=trimmed,
                    shape=(r1 - r0, c1 - c0), raw_shape=(ny, nx))

    def trimmed_header(self, ccdchip):
        """SCI header of the calibrated chip (BUNIT, LTV1/2 and NAXIS of
        the trimmed image)."""
        return self._chips[int(ccdchip)]['header']

    def trimmed_shape(self, ccdchip):
        """(rows, columns) of the trimmed chip."""
        return self._chips[int(ccdchip)]['shape']

    # -- calibration --------------------------------------------------------
    def _gain(self, amp):
        for key in (f'ATODGN{amp}', 'CCDGAIN'):
            try:
                g = float(self.primary.get(key, 0.0) or 0.0)
            except (TypeError, ValueError):
                g = 0.0
            if g > 0:
                return g, key
        raise InputFileError(
            f'raw file: no gain for amplifier {amp} (ATODGN{amp} and CCDGAIN '
            'are zero or missing)', path=self.path)

    def _read_raw(self, ccdchip):
        lay = self._chips[ccdchip]
        idx = lay['entry']['SCI']
        try:
            # BZERO-scaled data cannot be memory-mapped; uint=True gives the
            # unsigned DN
            with fits.open(self.path, memmap=False, uint=True) as hdul:
                data = hdul[idx].data
                if data is None or data.size == 0:
                    raise InputFileError(
                        f'raw chip CCDCHIP={ccdchip} has no pixel data',
                        path=self.path)
                raw = np.array(data)
                dq = None
                if 'DQ' in lay['entry']:
                    dhdu = hdul[lay['entry']['DQ']]
                    if dhdu.header.get('NAXIS', 0):
                        dq = np.asarray(dhdu.data, dtype=np.uint16)
                    else:
                        dq = np.full(raw.shape, int(dhdu.header.get(
                            'PIXVALUE', 0)), dtype=np.uint16)
        except InputFileError:
            raise
        except (OSError, ValueError, TypeError) as exc:
            raise InputFileError(
                f'cannot read the raw pixels of chip CCDCHIP={ccdchip} '
                f'({exc})', path=self.path) from None
        if raw.shape != lay['raw_shape']:
            raise InputFileError(f'raw chip CCDCHIP={ccdchip} has shape '
                                 f'{raw.shape}, not its header shape',
                                 path=self.path)
        if dq is None or dq.shape != raw.shape:
            dq = np.zeros(raw.shape, np.uint16)
        return raw, dq

    def amplifiers(self, ccdchip):
        """The `AmpCalibration` of each amplifier of a chip (reads it)."""
        self.calibrate(ccdchip)
        return list(self._cal[int(ccdchip)][1])

    def calibrate(self, ccdchip):
        """
        Calibrate one chip.

        Returns
        -------
        sci, err : `~numpy.ndarray` (float32)
            Electrons and their 1-sigma error in the trimmed frame.
        dq : `~numpy.ndarray` (uint16)
            The file's DQ (null: 0) trimmed, with 2048 where the raw value
            is A-to-D saturated.
        """
        ccdchip = int(ccdchip)
        if ccdchip in self._cal:
            return self._cal[ccdchip][0]
        lay = self._chips[ccdchip]
        raw, dq = self._read_raw(ccdchip)
        sci = raw[lay['rows'], lay['cols']].astype(np.float32)
        err = np.empty_like(sci)
        dq = dq[lay['rows'], lay['cols']].copy()
        dq[raw[lay['rows'], lay['cols']] >= _ATOD_MAX] |= np.uint16(DQ_ATODSAT)
        cals = []
        for amp, cols in lay['sect'].items():
            if not lay['half'][amp].any():
                continue                   # this amplifier reads no pixel here
            pix = raw[:, cols].astype(float).ravel()
            pix = pix[pix < _ATOD_MAX]
            if pix.size < 10:
                raise InputFileError(
                    f'raw chip CCDCHIP={ccdchip}: only {pix.size} usable '
                    f'prescan pixels for amplifier {amp}', path=self.path)
            # clipped about the median (cosmic rays), then the mean: the
            # median of integer DN is quantized to 0.5 DN (~1 e-)
            bias, _, std = sigma_clipped_stats(pix, sigma=3.0, maxiters=10,
                                               cenfunc='median', stdfunc='std')
            npix = int(np.sum(np.abs(pix - bias) <= 3 * max(std, 0.5)))
            gain, gsrc = self._gain(amp)
            rn_hdr = float(self.primary.get(f'READNSE{amp}', 0.0) or 0.0)
            if rn_hdr > 0:
                rn, rsrc = rn_hdr, f'READNSE{amp}'
            else:
                rn, rsrc = float(std) * gain, 'prescan'
            sel = lay['half'][amp]
            block = sci[:, sel]
            block -= np.float32(bias)
            block *= np.float32(gain)
            sci[:, sel] = block
            var = np.clip(block, 0, None) + np.float32(rn ** 2)
            err[:, sel] = np.sqrt(var)
            cols1 = (int(cols.min()) + 1, int(cols.max()) + 1)
            cals.append(AmpCalibration(
                amp=amp, bias_dn=float(bias),
                bias_err_dn=float(std / np.sqrt(max(npix, 1))),
                gain=gain, gain_source=gsrc, read_noise=rn,
                read_noise_source=rsrc, npix=npix, columns=cols1))
            log.info('%s CCDCHIP=%d amp %s: bias %.2f DN from prescan '
                     'columns %d-%d (%d px), gain %.3f (%s), read noise '
                     '%.2f e- (%s)', os.path.basename(self.path), ccdchip,
                     amp, bias, cols1[0], cols1[1], npix, gain, gsrc, rn,
                     rsrc)
        self._cal = {ccdchip: ((sci, err, dq), cals)}  # one chip cached
        return sci, err, dq
