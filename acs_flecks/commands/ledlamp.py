"""Not yet implemented."""
NAME = 'ledlamp'
HELP = "(not yet implemented)"


def add_arguments(parser):
    pass


def run(args):
    raise NotImplementedError(NAME)
