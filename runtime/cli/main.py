"""pyrunc's entry: global flags, command dispatch, and THE error boundary.

Only this module catches exceptions. Any PyruncError becomes one log line (text on stderr,
or JSON in --log) and exit status 1; anything else is reported as an internal error, with
a traceback only under --debug.
"""
from pyrunc import oslite as os  # not os: see oslite.py
import sys

from pyrunc import __version__, SPEC_VERSION
from pyrunc.cli.args import Flag, STR, parse
from pyrunc.errors import PyruncError, UsageError

GLOBAL_FLAGS = (
    Flag("root", STR, ""),
    Flag("log", STR, ""),
    Flag("log-format", STR, "text"),
    Flag("debug"),
    Flag("systemd-cgroup"),
    Flag("rootless", STR, "auto"),
    Flag("criu", STR, "criu", hidden=True),
    Flag("version,v"),
    Flag("help,h"),
)

# command -> (module, one-line description). Modules are imported only when used.
COMMANDS = {
    "create": ("create", "create a container"),
    "start": ("start", "executes the user defined process in a created container"),
    "run": ("run", "create and run a container"),
    "state": ("state", "output the state of a container"),
    "kill": ("kill", "kill sends the specified signal (default: SIGTERM) to the container's init process"),
    "delete": ("delete", "delete any resources held by the container often used with detached container"),
    "list": ("list", "lists containers started by pyrunc with the given root"),
    "spec": ("spec", "create a new specification file"),
    "features": ("features", "show the enabled features"),
    "exec": ("exec", "execute new process inside the container"),
    "ps": ("ps", "ps displays the processes running inside a container"),
    "pause": ("pause", "pause suspends all processes inside the container"),
    "resume": ("resume", "resumes all processes that have been previously paused"),
    "update": ("update", "update container resource constraints"),
    "events": ("events", "display container events such as OOM notifications, cpu, memory, and IO usage statistics"),
    "checkpoint": ("checkpoint", "checkpoint a running container"),
    "restore": ("restore", "restore a container from a previous checkpoint"),
    "validate": ("validate", "check a bundle's config.json against pyrunc's schema"),
}


class Context:
    """What every command gets: global options and the logger."""

    def __init__(self, opts, logger):
        self.root = opts["root"]
        self.debug = opts["debug"]
        self.systemd_cgroup = opts["systemd_cgroup"]
        self.rootless = opts["rootless"]
        self.log = logger
        self.log_path = opts["log"]
        self.log_format = opts["log_format"]
        self.xdg_root = False  # the root is the default under $XDG_RUNTIME_DIR (rootless)


def default_root():
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if os.geteuid() != 0 and xdg:
        return os.path.join(xdg, "pyrunc")
    return "/run/pyrunc"


def _version():
    commit = "unknown"
    sys.stdout.write(f"pyrunc version {__version__}\ncommit: {commit}\nspec: {SPEC_VERSION}\n"
                     f"python: {sys.version.split()[0]}\n")
    return 0


def _help():
    sys.stdout.write("NAME:\n   pyrunc - Open Container Initiative runtime in Python\n\n"
                     "USAGE:\n   pyrunc [global options] command [command options] [arguments...]\n\n"
                     "COMMANDS:\n")
    for name, (_, desc) in COMMANDS.items():
        sys.stdout.write(f"   {name:<11}{desc}\n")
    sys.stdout.write("\nGLOBAL OPTIONS:\n   --root value, --log value, --log-format value, "
                     "--debug, --systemd-cgroup, --rootless value, --version, --help\n")
    return 0


def main(argv):
    from pyrunc.log import Logger
    logger = Logger()
    ctx = None
    cmd = None
    try:
        gopts, rest = parse(GLOBAL_FLAGS, argv, stop_at_positional=True)
        if gopts["log_format"] not in ("text", "json"):
            raise PyruncError(f"invalid log-format: {gopts['log_format']}")
        logger = Logger(gopts["log"] or None, gopts["log_format"], gopts["debug"])
        if gopts["version"]:
            return _version()
        if not rest or gopts["help"] or rest[0] == "help":
            return _help()
        cmd, args = rest[0], rest[1:]
        if cmd not in COMMANDS:
            raise UsageError(f"No help topic for '{cmd}'")
        root_flag = gopts["root"]
        root = root_flag or default_root()
        if root.rstrip("/") == "":
            raise PyruncError("option --root argument should not be set to /")
        gopts["root"] = os.path.abspath(root)
        ctx = Context(gopts, logger)
        ctx.xdg_root = not root_flag and root != "/run/pyrunc"
        module = __import__("pyrunc.cli." + COMMANDS[cmd][0], fromlist=["run"])
        return module.main(ctx, args)
    except BaseException as e:
        return failed(e, logger, cmd, ctx is not None and ctx.debug)


def failed(e, logger, cmd, debug=False):
    """THE error boundary (also for ops.main): one line on stderr or in --log, exit status 1."""
    if isinstance(e, UsageError):
        if str(e).startswith("flag") or "argument" in str(e):
            sys.stdout.write("Incorrect Usage: %s\n\n" % e if str(e).startswith("flag")
                             else "Incorrect Usage.\n\n")
            sys.stdout.flush()
        logger.error(str(e))
        return 1
    if isinstance(e, PyruncError):
        if debug:
            import traceback
            traceback.print_exception(e)
        msg = str(e)
        if cmd in ("create", "run") and not getattr(e, "bare", False):
            msg = f"pyrunc {cmd} failed: {msg}"
        logger.error(msg)
        return e.exit_code
    if isinstance(e, KeyboardInterrupt):
        return 130
    if not isinstance(e, Exception):
        raise e
    # the one place an unexpected error is turned into a line
    if debug:
        import traceback
        traceback.print_exception(e)
    logger.error(f"internal error: {type(e).__name__}: {e}")
    return 1
