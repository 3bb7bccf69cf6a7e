"""`python -m pyrunc`; the installed `pyrunc` command enters at ops.entry."""
import sys


def main(argv=None):
    from pyrunc.ops import run_command
    return run_command(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
