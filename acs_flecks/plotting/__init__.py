"""
The report's figures, drawn with `matplotlib.figure.Figure` (no pyplot), so
they work without a display and in Dask workers.  Import the plotting
modules directly (e.g. ``acs_flecks.plotting.characterize``).
"""

__all__ = []
