"""
One call that characterizes a fleck with whatever inputs are available
(report §4-§6); the end-to-end pipeline uses it.

>>> from acs_flecks.characterize import characterize_fleck   # doctest: +SKIP
>>> ch = characterize_fleck(flats=flats, ccdchip=2, x=1521, y=1773,
...                         dkc='dkc.fits', outdir='out', fleck_id='fleck1')  # doctest: +SKIP
>>> ch.bad_pixels.meta['counts']                              # doctest: +SKIP
{'fleck1': 67}
"""

import logging
import os
from dataclasses import dataclass, field

from ..parameters import CHARACTERIZATION
from ..utils import write_ecsv
from .badpix import bad_pixels
from .eper import eper_ratio, pair_eper
from .ledlamp import compare_led_lamp
from .shadow import shadow_time_series
from .transmissivity import measure_transmissivity

__all__ = ['FleckCharacterization', 'characterize_fleck']

log = logging.getLogger(__name__)

# defaults: the characterization stage of acs_flecks.parameters
_C = CHARACTERIZATION.defaults


@dataclass
class FleckCharacterization:
    """
    Everything measured for one fleck.

    Attributes
    ----------
    transmissivity : `~acs_flecks.characterize.TransmissivityResult`
    bad_pixels : `~astropy.table.QTable`
    ledlamp : `~acs_flecks.characterize.LedLampComparison` or None
    eper : `~acs_flecks.characterize.EperResult` or None
    shadow : `~acs_flecks.characterize.ShadowSeries` or None
    files : dict
        kind -> path of the written tables and FITS files.
    figures : dict
        kind -> path of the written figures (filled by
        `acs_flecks.plotting.characterize.write_fleck_figures`).
    notes : list of str
        What was skipped and why.
    """

    transmissivity: object
    bad_pixels: object
    ledlamp: object = None
    eper: object = None
    shadow: object = None
    files: dict = field(default_factory=dict)
    figures: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)


def characterize_fleck(*, flats, ccdchip, x, y, box=(40, 40), dkc=None,
                       eper_images=None, eper_pairs=None, short_darks=None,
                       outdir=None,
                       fleck_id='', aperture_threshold=_C.aperture_threshold,
                       badpix_threshold=_C.badpix_threshold,
                       combine=_C.combine, background=_C.background,
                       appeared=None):
    """
    Characterize one fleck with the inputs given.

    Parameters
    ----------
    flats : list of str or `~acs_flecks.io.ACSImage`
        Lamp flats of one date (required).
    ccdchip : int
    x, y : float
        1-indexed chip position.
    box : tuple of int or str
        Cutout (ny, nx) or ``'NXxNY'``.
    dkc : str or `~acs_flecks.io.ACSImage`, optional
        Post-flashed combined dark for the LED vs lamp comparison (§6.2).
    eper_images : list, optional
        EPER images of two epochs (§4), paired by `pair_eper`.
    eper_pairs : list of `~acs_flecks.characterize.EperPair`, optional
        Already paired EPER images (instead of ``eper_images``).
    short_darks : list, optional
        Short flashed darks for the shadow time series (§5).
    outdir : str, optional
        Write tables and FITS files here (figures are drawn by the report
        step: `acs_flecks.plotting.characterize.write_fleck_figures`).
    fleck_id : str
    aperture_threshold, badpix_threshold : float
    combine : str
        Filter-combination rule of `~acs_flecks.characterize.bad_pixels`.
    background : str
        Background model.
    appeared : str, optional
        Date of origin of the fleck (which flat set is "after").

    Returns
    -------
    FleckCharacterization
    """
    res = measure_transmissivity(flats, ccdchip=ccdchip, x=x, y=y, box=box,
                                 aperture_threshold=aperture_threshold,
                                 badpix_threshold=badpix_threshold,
                                 background=background, fleck_id=fleck_id,
                                 date_of_origin=appeared)
    notes = [f'skipped {os.path.basename(p)}: {r}' for p, r in res.skipped]
    if res.flat_sets['before'] or res.flat_sets['after']:
        notes.append(f'flats of {res.flat_set} used; earlier sets '
                     f'{[d for d, _ in res.flat_sets["before"]] or "none"}, '
                     f'later sets {[d for d, _ in res.flat_sets["after"]] or "none"}')
    bad = bad_pixels(res, combine=combine, fleck_id=fleck_id or None)
    ch = FleckCharacterization(transmissivity=res, bad_pixels=bad, notes=notes)
    if dkc is not None:
        ch.ledlamp = compare_led_lamp(dkc, res, background=background)
    else:
        notes.append('no post-flashed dark: LED vs lamp comparison skipped')
    if eper_images or eper_pairs:
        pairs = eper_pairs or pair_eper(eper_images, ccdchip=ccdchip,
                                         x=x, y=y, box=box)
        ch.eper = eper_ratio(pairs, ccdchip=ccdchip, x=x, y=y, box=box,
                             aperture_threshold=aperture_threshold,
                             background=background, fleck_id=fleck_id)
    else:
        notes.append('no EPER images: ratios and motion skipped')
    if short_darks:
        ch.shadow = shadow_time_series(short_darks, ccdchip=ccdchip, x=x, y=y,
                                       lamp=res, fleck_id=fleck_id)
    else:
        notes.append('no short darks: shadow time series skipped')
    if outdir is not None:
        prefix = res.default_prefix
        ch.files.update(res.write(outdir, prefix=prefix))
        p = os.path.join(outdir, f'{prefix}_badpix.ecsv')
        write_ecsv(bad, p)
        ch.files['badpix'] = p
        for kind, obj in (('ledlamp', ch.ledlamp), ('eper', ch.eper),
                          ('shadow', ch.shadow)):
            if obj is not None:
                for k, v in obj.write(outdir, prefix=prefix).items():
                    ch.files[f'{kind}_{k}'] = v
    for n in notes:
        # skipped files were already announced by a SkippedFileWarning
        (log.debug if n.startswith('skipped ') else log.info)('%s', n)
    return ch
