"""The `pyrunc` command."""
import sys


def main():
    argv = sys.argv[1:]
    if "create" in argv or "run" in argv or "exec" in argv:
        # Before anything else is imported: see cgwarm.py (a false positive, such as a
        # container named "run", costs one harmless write).
        from pyrunc import cgwarm
        cgwarm.start()
    from pyrunc.cli.main import main as cli_main
    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
