"""Sphinx configuration for acs_flecks."""

import datetime

from acs_flecks import __version__

project = 'acs_flecks'
author = 'acs_flecks developers'
copyright = f'{datetime.date.today().year}, {author}'
version = release = __version__

extensions = [
    'sphinx.ext.autodoc',
    'sphinx.ext.intersphinx',
    'sphinx.ext.mathjax',
    'sphinx.ext.viewcode',
    'numpydoc',
    'sphinx_automodapi.automodapi',
    'sphinx_automodapi.smart_resolver',
]
numpydoc_show_class_members = False
automodapi_toctreedirnm = 'api'
automodsumm_inherited_members = False
default_role = 'obj'
nitpicky = False
exclude_patterns = ['_build']
html_theme = 'alabaster'
# No network here: intersphinx inventories are not fetched.
intersphinx_mapping = {}
suppress_warnings = ['ref.obj', 'ref.ref', 'ref.python', 'ref.class',
                     'ref.func', 'ref.meth', 'ref.exc', 'ref.mod',
                     'ref.attr', 'ref.data']
automodapi_inheritance_diagram = False
