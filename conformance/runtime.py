"""The runtime under test, driven only through its runc-compatible command line.

Every call gets ``--root`` pointing at the run's private state dir, and an optional wrapper
prefix (e.g. a private mount namespace for crun) is put in front of the binary.
"""
import json
import os
import shlex
import subprocess

DEFAULT_TIMEOUT = 30


class Result:
    """One CLI invocation: argv, exit status and decoded output."""

    def __init__(self, argv, returncode, stdout, stderr):
        self.argv, self.returncode, self.stdout, self.stderr = argv, returncode, stdout, stderr

    @property
    def ok(self):
        return self.returncode == 0

    def describe(self):
        err = (self.stderr or self.stdout or "").strip().splitlines()
        tail = err[-1] if err else ""
        return f"{' '.join(self.argv[-3:])!r} exited {self.returncode}: {tail[:200]}"

    def json(self):
        return json.loads(self.stdout)


class Runtime:
    def __init__(self, path, root, wrap=""):
        self.path = path
        self.root = root
        self.wrap = shlex.split(wrap) if wrap else []
        # Some calls run with another cwd (the bundle): pin a relative wrapper script.
        if self.wrap and os.sep in self.wrap[0] and os.path.exists(self.wrap[0]):
            self.wrap[0] = os.path.abspath(self.wrap[0])
        self.name = os.path.basename(path)

    def with_root(self, root):
        """The same runtime and wrapper with another --root."""
        other = Runtime(self.path, root)
        other.wrap, other.name = self.wrap, self.name
        return other

    def argv(self, *args):
        return [*self.wrap, self.path, "--root", self.root, *args]

    def call(self, *args, stdin=subprocess.DEVNULL, stdout=None, stderr=None, cwd=None,
             timeout=DEFAULT_TIMEOUT, input=None):
        """Runs one command; stdout/stderr are captured unless files are given.

        Commands that leave a container process behind (create, run -d) must be given
        files, not pipes: the container inherits them and would hold a pipe open.
        """
        argv = self.argv(*args)
        if input is not None:
            stdin = None
        p = subprocess.run(argv, stdin=stdin, input=input,
                           stdout=stdout if stdout is not None else subprocess.PIPE,
                           stderr=stderr if stderr is not None else subprocess.PIPE,
                           cwd=cwd, timeout=timeout)
        out = p.stdout.decode(errors="replace") if isinstance(p.stdout, bytes) else ""
        err = p.stderr.decode(errors="replace") if isinstance(p.stderr, bytes) else ""
        return Result(argv, p.returncode, out, err)

    def version(self):
        try:
            r = subprocess.run([self.path, "--version"], capture_output=True, text=True,
                               timeout=10)
            return r.stdout.strip().splitlines()[0] if r.stdout.strip() else "?"
        except OSError as e:
            return f"? ({e})"
