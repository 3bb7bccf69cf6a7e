"""One exception hierarchy for pyrunc; the CLI boundary turns any of them into one line.

Low-level code raises OSError; each module translates it once, adding what it was doing,
so a message reads from the operation down to the syscall that failed.
"""


class PyruncError(Exception):
    """Any failure the user should see as one line and exit status 1."""
    exit_code = 1


class UsageError(PyruncError):
    """Wrong command-line arguments (runc prints "Incorrect Usage." and the help)."""


class ConfigError(PyruncError):
    """config.json is at fault: `pointer` is the JSON pointer of the offending field."""

    def __init__(self, pointer, why):
        self.pointer = pointer
        self.why = why
        where = f"config.json {pointer}" if pointer else "config.json"
        super().__init__(f"{where}: {why}")


class InvalidID(PyruncError):
    def __init__(self):
        super().__init__("invalid container ID format")


class ContainerNotFound(PyruncError):
    def __init__(self):
        super().__init__("container does not exist")


class ContainerExists(PyruncError):
    def __init__(self):
        super().__init__("container with given ID already exists")


class InvalidState(PyruncError):
    """An operation the container's current status does not allow."""


class SyscallError(PyruncError):
    """A syscall failed: `op` says what we were doing, errno why."""

    def __init__(self, op, err):
        self.op = op
        self.errno = getattr(err, "errno", None)
        why = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        super().__init__(f"{op}: {why}")


class MountError(SyscallError):
    pass


class CgroupError(SyscallError):
    pass


class HookError(PyruncError):
    pass


class InitError(PyruncError):
    """The container's init reported a failure over the sync channel."""
