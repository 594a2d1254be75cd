"""
The figure of the report's low-level trail (§5): the large fleck in a
flashed short dark with the shadow box and the empty comparison box
outlined (Figure 8).  Figure 9, the signal in the boxes over time, is
`acs_flecks.plotting.characterize.plot_shadow_series`.
"""

from matplotlib.figure import Figure

from ..coords import chip_name
from ..exceptions import AcsFlecksError
from .chip_images import _box, _date, _label, _open, _show, _unit, chip_region

__all__ = ['plot_shadow_boxes']

def plot_shadow_boxes(image, *, ccdchip, x, y, shadow_box=None, empty_box=None,
                      lamp=None, size=40, label=''):
    """
    The large fleck in a flashed short dark with the §5 shadow box (blue)
    and the empty comparison box (orange) outlined (Figure 8).

    Parameters
    ----------
    image : str or `~acs_flecks.io.ACSImage`
        A flashed short dark (DKC) showing the fleck.
    ccdchip : int
    x, y : float
        1-indexed chip position of the fleck.
    shadow_box, empty_box : tuple of int, optional
        (xmin, xmax, ymin, ymax) 1-indexed inclusive; default from
        `acs_flecks.characterize.shadow_boxes` (with ``lamp``).
    lamp : `~acs_flecks.characterize.TransmissivityResult`, optional
        The fleck in lamp flats, to place the default boxes.
    size : int
        Side of the region shown (enlarged to include the empty box).
    label : str

    Returns
    -------
    `~matplotlib.figure.Figure`
    """
    from ..characterize.shadow import shadow_boxes
    img = _open(image)
    if (shadow_box is None) != (empty_box is None):
        raise AcsFlecksError('give both shadow_box and empty_box, or neither')
    if shadow_box is None:
        shadow_box, empty_box = shadow_boxes(img, ccdchip=ccdchip, x=x, y=y,
                                             lamp=lamp)
    # a square region centred on the fleck that contains both boxes
    reach = max(abs(v - c) for v, c in zip((*shadow_box, *empty_box),
                                           (x, x, y, y, x, x, y, y)))
    side = int(max(size, 2 * reach + 8))
    data, ext = chip_region(img, ccdchip=ccdchip, x=x, y=y, size=side)
    fig = Figure(figsize=(6.6, 5.6), layout='constrained')
    ax = fig.subplots()
    im = _show(ax, data, ext)
    sb, eb = tuple(int(v) for v in shadow_box), tuple(int(v) for v in empty_box)
    _box(ax, sb, 'tab:blue', f'shadow box x {sb[0]}-{sb[1]}, y {sb[2]}-{sb[3]}')
    _box(ax, eb, 'tab:orange', f'empty box x {eb[0]}-{eb[1]}, y {eb[2]}-{eb[3]}')
    ax.legend(fontsize=7, loc='lower left')
    fig.colorbar(im, ax=ax, label=f'signal ({_unit(img)})')
    _label(ax, ccdchip)
    ax.set_title(f'{label + " " if label else ""}{chip_name(ccdchip)} '
                 f'({x:g}, {y:g}) in {img.name} ({_date(img)})', fontsize=9)
    return fig
