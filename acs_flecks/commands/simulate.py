"""Not yet implemented."""
NAME = 'simulate'
HELP = "(not yet implemented)"


def add_arguments(parser):
    pass


def run(args):
    raise NotImplementedError(NAME)
