"""The report step's layout (issue #13): HTML pages in acs_flecks.html,
image figures in acs_flecks.figures, truth comparison in
acs_flecks.simulate.evaluation -- and nothing left at the old names."""

import ast
import importlib
import pathlib

import pytest

import acs_flecks

PACKAGE = pathlib.Path(acs_flecks.__file__).parent


def _imported_modules(path):
    """Absolute names of the acs_flecks modules a file imports (lazy
    imports inside functions included)."""
    parts = path.relative_to(PACKAGE.parent).with_suffix('').parts
    package = parts[:-1]  # a module's package, or the package itself
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = list(package[:len(package) - node.level + 1]) \
                if node.level else []
            name = '.'.join(base + ([node.module] if node.module else []))
            out.add(name)
            out.update(f'{name}.{a.name}' for a in node.names)
    return {m for m in out if m == 'acs_flecks' or m.startswith('acs_flecks.')}


@pytest.mark.parametrize('old', ['acs_flecks.report', 'acs_flecks.chain_report',
                                 'acs_flecks.science_report',
                                 'acs_flecks.plotting.report_figures',
                                 'acs_flecks.detect.evaluation'])
def test_old_module_names_are_gone(old):
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(old)


def test_truth_matching_is_not_in_the_detect_api():
    import acs_flecks.detect as detect
    import acs_flecks.simulate.evaluation as evaluation
    for name in ('match_truth', 'completeness'):
        assert name not in detect.__all__
        assert not hasattr(detect, name)
        assert name in evaluation.__all__


def test_demo_keeps_only_the_demo_run():
    import acs_flecks.demo as demo
    import acs_flecks.simulate.evaluation as evaluation
    assert set(demo.__all__) == {'run_demo', 'write_reference_bpixtab'}
    for name in evaluation.__all__:
        assert not hasattr(demo, name), name


@pytest.mark.parametrize('package', ['html', 'figures'])
def test_package_reexports_its_modules(package):
    pkg = importlib.import_module(f'acs_flecks.{package}')
    modules = sorted(p.stem for p in (PACKAGE / package).glob('*.py')
                     if p.stem != '__init__')
    names = []
    for m in modules:
        mod = importlib.import_module(f'acs_flecks.{package}.{m}')
        names += mod.__all__
        for name in mod.__all__:
            assert getattr(pkg, name) is getattr(mod, name), (m, name)
    assert sorted(pkg.__all__) == sorted(names)
    assert len(set(names)) == len(names)


def test_figures_never_import_the_html_pages():
    """Pages embed figures, never the reverse: the figure modules (and the
    plotting modules) import nothing from acs_flecks.html, so the report
    step has no cycle through the package __init__ files."""
    for sub in ('figures', 'plotting'):
        for path in sorted((PACKAGE / sub).glob('*.py')):
            bad = {m for m in _imported_modules(path)
                   if m == 'acs_flecks.html' or m.startswith('acs_flecks.html.')}
            assert not bad, f'{path.name} imports {sorted(bad)}'



def test_table_headers_sit_over_their_columns():
    """A header is aligned as its column: left over text columns (class
    ``s``, as their cells), right over numbers."""
    import astropy.units as u
    from astropy.table import QTable

    from acs_flecks.html import table_to_html
    t = QTable({'filter': ['F435W', 'F475W'], 'x': [1.5, 2.5] * u.pix,
                'n': [3, 4]})
    text = table_to_html(t)
    assert '<th class="s">filter</th><th>x [pix]</th><th>n</th>' in text
    assert '<td class="s">F435W</td><td>1.5</td><td>3</td>' in text
    from acs_flecks.html.document import REPORT_CSS
    assert 'th.s' in REPORT_CSS and 'th.wrap' in REPORT_CSS
