"""Helpers shared by the command modules: argument counts and container lookup."""
from pyrunc.cli.args import parse
from pyrunc.errors import UsageError


def parse_cmd(name, flags, args, nargs=1, stop=False, at_least=False):
    """Parse a command's flags and check its positional count the way runc words it."""
    opts, pos = parse(flags, args, stop_at_positional=stop)
    if at_least:
        if len(pos) < nargs:
            raise UsageError(f'pyrunc: "{name}" requires a minimum of {nargs} argument(s)')
    elif nargs is not None and len(pos) != nargs:
        raise UsageError(f'pyrunc: "{name}" requires exactly {nargs} argument(s)')
    return opts, pos
