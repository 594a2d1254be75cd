"""Not yet implemented."""
NAME = 'eper'
HELP = "(not yet implemented)"


def add_arguments(parser):
    pass


def run(args):
    raise NotImplementedError(NAME)
