"""The `pyrunc` command."""
import sys


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if "create" in argv or "run" in argv or "exec" in argv:
        # Before anything else is imported: see cgwarm.py (a false positive, such as a
        # container named "run", costs one harmless write).
        from pyrunc import cgwarm
        cgwarm.start()
    else:
        from pyrunc import ops
        rc = ops.main(argv)  # state/start/kill/delete in their usual forms, on builtins only
        if rc is not None:
            return rc
    from pyrunc.cli.main import main as cli_main
    return cli_main(argv)


def entry():
    """The launcher's entry point: main(), then an exit that skips the interpreter's
    finalization (~0.8 ms per call). pyrunc keeps no buffered file open at that point; the
    standard streams are flushed here."""
    rc = main()
    import posix
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except (OSError, ValueError):
            pass
    posix._exit(rc if isinstance(rc, int) else 1)


if __name__ == "__main__":
    sys.exit(main())
