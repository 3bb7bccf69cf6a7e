"""The `pyrunc` command."""
import sys


def main():
    from pyrunc.cli.main import main as cli_main
    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
