"""Not yet implemented."""
NAME = 'shadow'
HELP = "(not yet implemented)"


def add_arguments(parser):
    pass


def run(args):
    raise NotImplementedError(NAME)
