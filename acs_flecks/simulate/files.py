"""
Writing simulated data as ACS/WFC FITS files in the real layout.

Headers start from those of a real WFC ``_flc`` file (``jbt122x8q``, shipped
as ``acs_flecks/data/wfc_header_template.fits`` with its pixel data and
distortion extensions removed) and have their values replaced: primary +
``[SCI,1] [ERR,1] [DQ,1]`` = WFC2 (``CCDCHIP=2``), then
``[SCI,2] [ERR,2] [DQ,2]`` = WFC1.  SCI and ERR are float32 electrons
(``BUNIT='ELECTRONS'``, totals, not rates), DQ is int16.
"""

import datetime
import os
from functools import lru_cache

import numpy as np
from astropy.io import fits
from astropy.time import Time, TimeDelta

from .. import __version__
from ..filters import PIVOT_WAVELENGTHS
from ..utils import atomic_output

__all__ = ['TEMPLATE_PATH', 'write_acs_file', 'write_raw_file',
           'filter_keywords']

#: Header template (from a real WFC flc file).
TEMPLATE_PATH = os.path.join(os.path.dirname(os.path.dirname(__file__)),
                             'data', 'wfc_header_template.fits')

#: Filters mounted on filter wheel 2 (the others used here are on wheel 1).
_WHEEL2 = {'F435W', 'F606W', 'F814W', 'F660N'}

_STATS = ('NGOODPIX', 'GOODMIN', 'GOODMAX', 'GOODMEAN', 'SOFTERRS', 'SNRMIN',
          'SNRMAX', 'SNRMEAN', 'MEANDARK', 'MEANBLEV', 'MEANFLSH', 'PHOTFLAM',
          'PHOTZPT', 'PHOTBW')


@lru_cache(maxsize=1)
def _template():
    with fits.open(TEMPLATE_PATH) as hdul:
        return [h.header.copy() for h in hdul]


def filter_keywords(filter_name):
    """(FILTER1, FILTER2) for a filter name ('CLEAR' gives two CLEARs)."""
    f = str(filter_name).upper()
    if f in ('', 'CLEAR'):
        return 'CLEAR1L', 'CLEAR2L'
    if f in _WHEEL2:
        return 'CLEAR1L', f
    return f, 'CLEAR2L'


def _primary_header(meta):
    h = _template()[0].copy()
    h.remove('HISTORY', ignore_missing=True, remove_all=True)
    start = Time(meta['date'])
    exptime = float(meta['exptime'])
    f1, f2 = filter_keywords(meta.get('filter', 'CLEAR'))
    end = start + TimeDelta(exptime, format='sec')
    now = datetime.datetime.now(datetime.timezone.utc)
    h['DATE'] = now.strftime('%Y-%m-%d')
    h['ORIGIN'] = f'acs_flecks {__version__}'
    h['NEXTEND'] = 6
    h['FILENAME'] = meta['filename']
    h['ROOTNAME'] = meta['rootname']
    h['IMAGETYP'] = meta['imagetyp']
    h['TARGNAME'] = meta['targname']
    h['PROPOSID'] = meta['proposid']
    h['LINENUM'] = '1.000'
    for k in ('PR_INV_L', 'PR_INV_F', 'PR_INV_M'):
        h[k] = 'simulated'
    h['DATE-OBS'] = start.isot[:10]
    h['TIME-OBS'] = start.isot[11:19]
    h['EXPSTART'] = start.mjd
    h['EXPEND'] = end.mjd
    h['EXPTIME'] = exptime
    h.set('TEXPTIME', float(meta.get('texptime', exptime)),
          'total exposure time of combined inputs (s)', after='EXPTIME')
    h['DARKTIME'] = float(meta.get('darktime', exptime))
    h['OBSTYPE'] = meta.get('obstype', 'INTERNAL')
    h['SCLAMP'] = meta.get('sclamp', 'NONE')
    h['CTEIMAGE'] = meta.get('cteimage', 'NONE')
    h['SUBARRAY'] = bool(meta.get('subarray', False))
    h['FILTER1'] = f1
    h['FILTER2'] = f2
    h['APERTURE'] = 'WFC'
    h['PROPAPER'] = 'WFC'
    h['CRSPLIT'] = int(meta.get('ncombine', 1))
    h['NRPTEXP'] = 1
    flash = float(meta.get('flashdur', 0.0))
    h['FLASHDUR'] = flash
    h['FLASHCUR'] = 'MED' if flash > 0 else 'OFF'
    h['FLASHSTA'] = 'SUCCESSFUL' if flash > 0 else 'NOT PERFORMED'
    h['FLSHCORR'] = 'OMIT'
    h['CRCORR'] = 'COMPLETE' if int(meta.get('ncombine', 1)) > 1 else 'OMIT'
    h['PCTECORR'] = 'COMPLETE' if meta.get('cte_corrected') else 'OMIT'
    h['DARKCORR'] = 'OMIT' if meta['imagetyp'] == 'DARK' else 'COMPLETE'
    h['FLATCORR'] = 'OMIT'
    h['DRIZCORR'] = 'OMIT'
    h['BPIXTAB'] = meta.get('bpixtab', 'jref$25g1256nj_bpx.fits')
    h['ASN_MTYP'] = 'PROD-CR' if int(meta.get('ncombine', 1)) > 1 else 'EXP-CR'
    h.set('ACSFSIM', True, 'simulated by acs_flecks.simulate')
    h.set('SIMSCEN', meta.get('scenario', ''), 'acs_flecks sim. scenario')
    h.set('SIMSEED', int(meta.get('seed', 0)), 'acs_flecks simulation seed')
    h.set('SIMKIND', meta.get('kind', ''), 'acs_flecks simulated file kind')
    h.add_history('Simulated ACS/WFC data written by acs_flecks.simulate; '
                  'header keywords from a real WFC flc file with values '
                  'replaced.')
    return h


def _ext_header(template, meta, ccdchip, ltv, shape):
    h = template.copy()
    for k in _STATS:
        h.remove(k, ignore_missing=True)
    h['ROOTNAME'] = meta['rootname']
    h['EXPNAME'] = meta['rootname']
    h['DATE'] = datetime.datetime.now(
        datetime.timezone.utc).strftime('%Y-%m-%d')
    h['ORIGIN'] = f'acs_flecks {__version__}'
    if 'CCDCHIP' in h or h.get('EXTNAME', '').strip() == 'SCI':
        h['CCDCHIP'] = int(ccdchip)
    h['LTV1'] = float(ltv[0])
    h['LTV2'] = float(ltv[1])
    if 'CRPIX1' in h:
        h['CRPIX1'] = float(h['CRPIX1']) + ltv[0]
        h['CRPIX2'] = float(h['CRPIX2']) + ltv[1]
    if 'SIZAXIS1' in h:
        h['SIZAXIS1'] = shape[1]
        h['SIZAXIS2'] = shape[0]
        h['CENTERA1'] = int(-ltv[0] + 24 + shape[1] // 2)
        h['CENTERA2'] = int(-ltv[1] + shape[0] // 2)
    if h.get('EXTNAME', '').strip() == 'SCI':
        h['NCOMBINE'] = int(meta.get('ncombine', 1))
        flt = meta.get('filter', 'CLEAR')
        chipname = 'WFC1' if int(ccdchip) == 1 else 'WFC2'
        h['PHOTMODE'] = f'ACS {chipname} {flt}'.strip()
        if flt in PIVOT_WAVELENGTHS:
            h['PHOTPLAM'] = PIVOT_WAVELENGTHS[flt].value
        else:
            h.remove('PHOTPLAM', ignore_missing=True)
    return h


def write_acs_file(path, chips, meta):
    """
    Write a two-chip (or one-chip) ACS/WFC file atomically.

    Parameters
    ----------
    path : str
        Output file.
    chips : dict
        ccdchip -> dict(sci=float32 array, err=float32 array, dq=int16
        array, ltv=(LTV1, LTV2)).  CCDCHIP 2 is written first
        (``[SCI,1]``), as in real WFC files.
    meta : dict
        Header values: date, exptime, filter, filename, rootname, imagetyp,
        targname, proposid, ncombine, flashdur, ... (see `_primary_header`).

    Returns
    -------
    str
        ``path``.
    """
    tmpl = _template()
    hdus = [fits.PrimaryHDU(header=_primary_header(meta))]
    extver = 0
    for ccdchip in sorted(chips, reverse=True):     # WFC2 first
        extver += 1
        c = chips[ccdchip]
        base = 1 if ccdchip == 2 else 4
        shape = c['sci'].shape
        for j, (name, data) in enumerate((
                ('SCI', np.asarray(c['sci'], dtype=np.float32)),
                ('ERR', np.asarray(c['err'], dtype=np.float32)),
                ('DQ', np.asarray(c['dq'], dtype=np.int16)))):
            h = _ext_header(tmpl[base + j], meta, ccdchip, c['ltv'], shape)
            h['EXTNAME'] = name
            h['EXTVER'] = extver
            hdus.append(fits.ImageHDU(data=data, header=h))
    with atomic_output(path) as tmp:
        fits.HDUList(hdus).writeto(tmp, output_verify='ignore')
    return path


#: Primary keywords CALACS fills from CCDTAB and the overscan: zero in raw.
_RAW_PLACEHOLDERS = tuple(f'{k}{a}' for k in ('ATODGN', 'READNSE', 'BIASLEV')
                          for a in 'ABCD')

#: Calibration switches of a raw file (what CALACS will do).
_RAW_SWITCHES = ('DQICORR', 'ATODCORR', 'BLEVCORR', 'BIASCORR', 'FLSHCORR',
                 'CRCORR', 'SHADCORR', 'PCTECORR', 'DARKCORR', 'FLATCORR',
                 'PHOTCORR', 'DRIZCORR')


def write_raw_file(path, chips, meta):
    """
    Write a raw ACS/WFC file (``_raw``) atomically.

    Parameters
    ----------
    path : str
        Output file.
    chips : dict
        ccdchip -> dict(dn=uint16 array, ltv=(LTV1, LTV2)), from
        `acs_flecks.simulate.rawframes.raw_frame`.  CCDCHIP 2 is written
        first.
    meta : dict
        As for `write_acs_file`, plus ``ccdgain`` (nominal gain, e-/DN).

    Returns
    -------
    str
        ``path``.

    Notes
    -----
    SCI is uint16 DN stored as int16 with ``BZERO = 32768`` and
    ``BUNIT = 'COUNTS'``; ERR and DQ are null extensions (``NAXIS = 0``,
    ``PIXVALUE = 0``, ``NPIX1``/``NPIX2`` the SCI shape); ``CCDAMP`` is
    'ABCD', ``CCDGAIN`` the nominal gain and ``ATODGNA-D``, ``READNSEA-D``,
    ``BIASLEVA-D`` zero placeholders, as in a real raw file.
    """
    tmpl = _template()
    ph = _primary_header(meta)
    ph['CCDAMP'] = 'ABCD'
    ph['CCDGAIN'] = float(meta.get('ccdgain', 2.0))
    for k in _RAW_PLACEHOLDERS:
        ph[k] = 0.0
    for k in _RAW_SWITCHES:
        if k in ph:
            ph[k] = 'PERFORM' if k in ('DQICORR', 'BLEVCORR', 'BIASCORR') \
                else 'OMIT'
    ph['FLASHSTA'] = ph.get('FLASHSTA', 'NOT PERFORMED')
    hdus = [fits.PrimaryHDU(header=ph)]
    extver = 0
    for ccdchip in sorted(chips, reverse=True):     # WFC2 first
        extver += 1
        c = chips[ccdchip]
        base = 1 if ccdchip == 2 else 4
        dn = np.asarray(c['dn'], dtype=np.uint16)
        shape = dn.shape
        for j, name in enumerate(('SCI', 'ERR', 'DQ')):
            h = _ext_header(tmpl[base + j], meta, ccdchip, c['ltv'], shape)
            h['EXTNAME'] = name
            h['EXTVER'] = extver
            h['BUNIT'] = 'UNITLESS' if name == 'DQ' else 'COUNTS'
            if name == 'SCI':
                hdu = fits.ImageHDU(data=dn, header=h, uint=True)
            else:
                hdu = fits.ImageHDU(data=None, header=h)
                hdu.header['BITPIX'] = 16
                hdu.header['PIXVALUE'] = (0 if name == 'DQ' else 0.0,
                                          'values of all pixels in array')
                hdu.header['NPIX1'] = (shape[1], 'length of constant array '
                                       'axis 1')
                hdu.header['NPIX2'] = (shape[0], 'length of constant array '
                                       'axis 2')
            hdus.append(hdu)
    with atomic_output(path) as tmp:
        fits.HDUList(hdus).writeto(tmp, output_verify='ignore')
    return path
