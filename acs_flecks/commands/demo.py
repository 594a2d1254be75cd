"""Not yet implemented."""
NAME = 'demo'
HELP = "(not yet implemented)"


def add_arguments(parser):
    pass


def run(args):
    raise NotImplementedError(NAME)
