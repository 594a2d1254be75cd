"""Printing the result of the whole chain (shared by ``run`` and ``demo``)."""

import numpy as np

__all__ = ['print_artifact_counts', 'print_chain_tail', 'print_new_flecks']


def print_artifact_counts(result):
    """One line: how many artifacts, by status."""
    arts = result.artifacts
    names, counts = np.unique(np.asarray(arts['status']), return_counts=True)
    print()
    print(f'Artifacts found: {len(arts)} ('
          + ', '.join(f'{c} {n}' for n, c in zip(names, counts)) + ')')


def print_new_flecks(result):
    """The new artifacts with their date-of-origin bracket."""
    new = result.new_flecks
    print()
    if not len(new):
        print('No new artifact.')
        return
    print('New artifacts (date of origin between last_seen_absent and '
          'first_seen; 1-indexed chip pixels):')
    cols = [c for c in ('artifact_id', 'ccdchip', 'x', 'y',
                        'last_seen_absent', 'first_seen', 'n_epochs')
            if c in new.colnames]
    table = new[cols]
    for name in ('x', 'y'):
        if name in cols:
            table[name].info.format = '.2f'
    table.pprint_all()


def print_chain_tail(result):
    """Flashed vs un-flashed verdicts, the new bpixtab and its
    certification, notes and outputs."""
    if result.lightpath is not None:
        print()
        print('Flashed vs un-flashed (report §3; deficits in percent):')
        cols = [c for c in ('artifact_id', 'ccdchip', 'x', 'y',
                            'deficit_frac_flashed', 'deficit_frac_unflashed',
                            'disappearance_significance', 'verdict')
                if c in result.lightpath.colnames]
        light = result.lightpath[cols]
        for name in cols[2:-1]:
            light[name].info.format = '.2f'
        light.pprint_all()
    if result.delivery is not None:
        print()
        print(f'New bad-pixel table: {result.delivery.path} '
              f'(USEAFTER {result.useafter}, {len(result.bad_pixels)} fleck '
              f'pixels with DQ 4, '
              f'{result.delivery.table.meta.get("n_added", "?")} rows added)')
        cert = result.delivery.certification
        if cert is not None:
            print(cert.report())
    for note in result.notes:
        # a skipped input was already said by its warning (stderr); the
        # report keeps the note
        if not note.startswith('skipped '):
            print(f'note: {note}')


def print_outputs(result, extra=()):
    """Where every output went."""
    print()
    print('Outputs:')
    for name, path in sorted(result.outputs.items()):
        print(f'  {name:12s} {path}')
    for name, path in extra:
        print(f'  {name:12s} {path}')


__all__.append('print_outputs')
