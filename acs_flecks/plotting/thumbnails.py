"""
Contact sheet of detected artifacts (like the report's Figures 3 and 18).

One panel per artifact: a cutout of the flashed dark around the artifact,
divided by the cutout's median (so 1 = unobstructed, darker = blocked),
in the 1-indexed full-chip frame of its chip.  With a known list the panel
frames are green for known artifacts and red for new ones.

>>> from acs_flecks.plotting.thumbnails import contact_sheet, save_figure  # doctest: +SKIP
>>> fig = contact_sheet('dkc.fits', catalog)                               # doctest: +SKIP
>>> save_figure(fig, 'dkc_artifacts.png')                                  # doctest: +SKIP
"""

import numpy as np
from matplotlib.figure import Figure

from ..coords import chip_name, chip_to_image, pixel_to_index
from ..io import open_image
from ..utils import atomic_output

__all__ = ['contact_sheet', 'save_figure']


def save_figure(fig, path, *, dpi=100):
    """Write a figure atomically (format from the extension); returns path."""
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format=str(path).rsplit('.', 1)[-1])
    return path


def _plain(v):
    return float(getattr(v, 'value', v))


def contact_sheet(image, catalog, *, size=41, ncols=6, known=None,
                  vmin=0.6, vmax=1.1, max_panels=60, params=None):
    """
    Draw thumbnails of the artifacts of one file.

    Parameters
    ----------
    image : str or `~acs_flecks.io.ACSImage`
        The searched file.
    catalog : `~astropy.table.QTable`
        Its catalog (`~acs_flecks.detect.find_artifacts`), optionally with a
        boolean ``known`` column.
    size : int
        Cutout side (pixels).
    ncols : int
        Panels per row.
    known : array of bool, optional
        Overrides the catalog's ``known`` column.
    vmin, vmax : float
        Display range of the normalized flux.
    max_panels : int
        At most this many panels (the deepest artifacts first).
    params : optional
        Unused; accepted for symmetry with the search (the figure shows the
        data, not the filtered image).

    Returns
    -------
    `matplotlib.figure.Figure`
    """
    img = open_image(image, operation='thumbnails')
    if known is None and 'known' in catalog.colnames:
        known = np.asarray(catalog['known'], dtype=bool)
    order = np.arange(len(catalog))
    if len(catalog) > max_panels:
        depth = np.asarray(getattr(catalog['peak_deficit'], 'value',
                                   catalog['peak_deficit']))
        order = np.sort(np.argsort(-depth)[:max_panels])
    n = max(len(order), 1)
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig = Figure(figsize=(2.1 * ncols + 1.0, 2.2 * nrows + 0.8),
                 layout='constrained')
    axes = fig.subplots(nrows, ncols, squeeze=False)
    chips = {}
    im = None
    half = size // 2
    for k, ax in enumerate(axes.flat):
        if k >= len(order):
            ax.set_axis_off()
            continue
        row = catalog[int(order[k])]
        ccdchip = int(row['ccdchip'])
        if ccdchip not in chips:
            chips[ccdchip] = img.chip(ccdchip, arrays=('SCI',),
                                      allow_nan=True)
        chip = chips[ccdchip]
        xc, yc = round(_plain(row['x'])), round(_plain(row['y']))
        xi, yi = chip_to_image(xc, yc, chip.ltv)
        r0, c0 = pixel_to_index(int(xi) - half, int(yi) - half)
        r0c, c0c = max(r0, 0), max(c0, 0)
        r1c = min(r0 + size, chip.shape[0])
        c1c = min(c0 + size, chip.shape[1])
        cut = np.full((size, size), np.nan, np.float32)
        cut[r0c - r0:r1c - r0, c0c - c0:c1c - c0] = chip.sci[r0c:r1c,
                                                             c0c:c1c]
        med = np.nanmedian(cut)
        norm = cut / med if np.isfinite(med) and med > 0 else cut
        extent = (xc - half - 0.5, xc + half + 0.5,
                  yc - half - 0.5, yc + half + 0.5)
        im = ax.imshow(norm, origin='lower', cmap='gray', vmin=vmin,
                       vmax=vmax, extent=extent, interpolation='nearest')
        label = f'{chip_name(ccdchip)} ({xc}, {yc})'
        if known is not None:
            is_known = bool(known[int(order[k])])
            color = 'tab:green' if is_known else 'tab:red'
            label += ' known' if is_known else ' NEW'
            for spine in ax.spines.values():
                spine.set_edgecolor(color)
                spine.set_linewidth(3)
        ax.set_title(label, fontsize=8)
        ax.tick_params(labelsize=6)
        if k % ncols == 0:
            ax.set_ylabel('y (pixels)', fontsize=7)
        if k >= (nrows - 1) * ncols:
            ax.set_xlabel('x (pixels)', fontsize=7)
    if im is not None:
        fig.colorbar(im, ax=axes, shrink=0.6,
                     label='flux / cutout median')
    else:
        axes.flat[0].text(0.5, 0.5, 'no artifacts found', ha='center',
                          va='center', transform=axes.flat[0].transAxes)
    title = f'{img.name} ({img.obs_time.isot[:10]}): {len(catalog)} artifacts'
    if len(order) < len(catalog):
        title += f', {len(order)} deepest shown'
    fig.suptitle(title, fontsize=10)
    return fig
