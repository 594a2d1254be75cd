"""
The HTML pages acs_flecks writes, one module per page:

* ``acs_flecks.html.document``: the building blocks of every page
  (`HTMLReport`, `ReportSection`, `table_to_html`, `REPORT_CSS`,
  `relative_paths`);
* ``acs_flecks.html.chain_page``: the run's report, ``results/report.html``
  (`write_chain_report`);
* ``acs_flecks.html.science_section``: the science-data section of a report
  (`add_science_section`);
* ``acs_flecks.html.figures_index``: the instrument report's Figures 1-18 and
  their index page ``figures.html`` (`regenerate_figures`).

>>> from acs_flecks.html import HTMLReport
>>> rep = HTMLReport('acs_flecks run')
>>> rep.section('Flecks').text('Three new flecks.')
>>> '<h2' in rep.render()
True
"""

from . import chain_page, document, figures_index, science_section
from .chain_page import *  # noqa: F401,F403
from .document import *  # noqa: F401,F403
from .figures_index import *  # noqa: F401,F403
from .science_section import *  # noqa: F401,F403

__all__ = (document.__all__ + chain_page.__all__ + science_section.__all__
           + figures_index.__all__)
