"""runc-style flag parsing, table driven.

urfave/cli (runc's parser) accepts `--flag v`, `--flag=v`, `-flag v`, and bool flags bare or
as `--flag=true`. Flags end at `--`; for commands that pass arguments through (exec, kill, ps)
they also end at the first positional argument. argparse costs ~7 ms per start, and its
messages differ from runc's, so pyrunc has this small parser instead.
"""
from pyrunc.errors import UsageError

BOOL, STR, INT, LIST = "bool", "str", "int", "list"


class Flag:
    __slots__ = ("names", "kind", "key", "default", "hidden")

    def __init__(self, names, kind=BOOL, default=None, hidden=False):
        self.names = names.split(",")
        self.kind = kind
        self.key = self.names[0].replace("-", "_")
        if default is None:
            default = {BOOL: False, LIST: [], INT: 0}.get(kind)
        self.default = default
        self.hidden = hidden


def parse(flags, argv, stop_at_positional=False):
    """Return (opts, positionals). opts maps each flag's key to its value."""
    table = {}
    for f in flags:
        for n in f.names:
            table[n] = f
    opts = {f.key: (list(f.default) if f.kind == LIST else f.default) for f in flags}
    pos = []
    i = 0
    while i < len(argv):
        a = argv[i]
        i += 1
        if a == "--":
            pos.extend(argv[i:])
            break
        if len(a) < 2 or a[0] != "-" or (pos and stop_at_positional):
            pos.append(a)
            if stop_at_positional:
                pos.extend(argv[i:])
                break
            continue
        name, eq, val = a.lstrip("-").partition("=")
        f = table.get(name)
        if f is None:
            raise UsageError(f"flag provided but not defined: -{name}")
        if f.kind == BOOL:
            if eq:
                if val.lower() not in ("true", "false", "1", "0", "t", "f"):
                    raise UsageError(f'invalid boolean value "{val}" for -{name}')
                opts[f.key] = val.lower() in ("true", "1", "t")
            else:
                opts[f.key] = True
            continue
        if not eq:
            if i >= len(argv):
                raise UsageError(f"flag needs an argument: -{name}")
            val = argv[i]
            i += 1
        if f.kind == INT:
            try:
                val = int(val, 0)
            except ValueError:
                raise UsageError(f'invalid value "{val}" for flag -{name}') from None
        if f.kind == LIST:
            opts[f.key].append(val)
        else:
            opts[f.key] = val
    return opts, pos
