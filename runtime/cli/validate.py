"""pyrunc validate [--bundle DIR]: check config.json against pyrunc's schema and its own
semantic checks, printing every problem with its JSON pointer (create stops at the first)."""
import os
import sys

from pyrunc.cli.args import STR, Flag
from pyrunc.cli.common import parse_cmd

FLAGS = (Flag("bundle,b", STR, ""),)


def main(ctx, args):
    parse_opts, _ = parse_cmd("validate", FLAGS, args, nargs=0)
    from pyrunc import config as cfg, schema
    from pyrunc.errors import ConfigError, PyruncError
    bundle = os.path.abspath(parse_opts["bundle"] or ".")
    config = cfg.load(bundle)
    problems = [f"config.json {p}: {m}" for p, m in schema.errors(config)]
    if not problems:
        try:
            for w in cfg.check(config):
                ctx.log.warning(w)
        except ConfigError as e:
            problems.append(str(e))
    for p in problems:
        sys.stdout.write(p + "\n")
    if problems:
        raise PyruncError(f"{len(problems)} problem(s) in {bundle}/config.json")
    sys.stdout.write("config.json is valid\n")
    return 0
