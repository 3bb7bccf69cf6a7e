"""Cases, their registry, and the context a case runs with.

A case is a function taking a Ctx; it names the spec clause it checks and the clause's
level (MUST/SHOULD/MAY). It fails by raising Fail, skips by raising Skip. The Ctx owns
every container the case makes and tears them down afterwards, pass or fail.
"""
import json
import os
import signal
import threading
import time

from . import cgroups
from .config import base_config

REGISTRY = []


class Fail(Exception):
    pass


class Skip(Exception):
    pass


class Case:
    def __init__(self, fn, cid, clause, level, title):
        self.fn, self.id, self.clause, self.level, self.title = fn, cid, clause, level, title


def case(cid, clause, level, title=""):
    def register(fn):
        if any(c.id == cid for c in REGISTRY):
            raise ValueError(f"duplicate case id {cid}")
        REGISTRY.append(Case(fn, cid, clause, level, title or (fn.__doc__ or "").strip()))
        return fn
    return register


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def eq(actual, expected, what):
    if actual != expected:
        raise Fail(f"{what}: expected {expected!r}, got {actual!r}")


class Bundle:
    """A bundle dir with its own rootfs copy, a config to mutate, and a container ID."""

    def __init__(self, ctx, cid, cgroups_path):
        self.ctx = ctx
        self.id = cid
        self.dir = ctx.suite.ws.new_bundle_dir(cid)
        self.rootfs = os.path.join(self.dir, "rootfs")
        self.cgroups_path = cgroups_path
        self.config = base_config(cgroups_path)
        self.out = os.path.join(self.dir, "stdout")
        self.err = os.path.join(self.dir, "stderr")

    @property
    def process(self):
        return self.config["process"]

    @property
    def linux(self):
        return self.config["linux"]

    def write(self):
        with open(os.path.join(self.dir, "config.json"), "w") as f:
            json.dump(self.config, f, indent=1)

    def output(self):
        with open(self.out, errors="replace") as f:
            return f.read()

    def path(self, *parts):
        return os.path.join(self.dir, *parts)


class Ctx:
    """Per-case helpers: bundles, lifecycle calls that check their exit status, probes."""

    def __init__(self, suite, index):
        self.suite = suite
        self.rt = suite.runtime
        self.prefix = f"{suite.run_id}-{index}"
        self.bundles = []
        self.ids = set()
        self.pids = set()

    # -- bundles and IDs
    def new_id(self, tag=""):
        return f"{self.prefix}{tag}-{len(self.ids)}"

    def bundle(self, args=None, tag=""):
        cid = self.new_id(tag)
        self.ids.add(cid)
        b = Bundle(self, cid, f"/{cgroups.PARENT}/{self.suite.run_id}/{cid}")
        if args is not None:
            b.process["args"] = list(args)
        self.bundles.append(b)
        return b

    def sleeper(self, tag=""):
        return self.bundle(args=["sleep", "600"], tag=tag)

    # -- CLI wrappers
    def create(self, b, *extra, ok=True, write=True):
        if write:
            b.write()
        with open(b.out, "ab") as out, open(b.err, "ab") as err:
            r = self.rt.call("create", "--bundle", b.dir, *extra, b.id, stdout=out,
                             stderr=err)
        with open(b.err, errors="replace") as f:
            r.stderr = f.read()
        if ok and not r.ok:
            raise Fail(f"create failed: {r.describe()}")
        return r

    def start(self, b, ok=True):
        return self._expect(self.rt.call("start", b.id), ok, "start")

    def kill(self, b, sig="KILL", ok=True, *flags):
        return self._expect(self.rt.call("kill", *flags, b.id, sig), ok, "kill")

    def delete(self, b, force=False, ok=True):
        args = ["delete", "--force", b.id] if force else ["delete", b.id]
        return self._expect(self.rt.call(*args), ok, "delete")

    def state(self, b_or_id):
        cid = getattr(b_or_id, "id", b_or_id)
        r = self.rt.call("state", cid)
        if not r.ok:
            raise Fail(f"state failed: {r.describe()}")
        try:
            return r.json()
        except ValueError:
            raise Fail(f"state output is not JSON: {r.stdout[:200]!r}")

    def state_fails(self, cid):
        return not self.rt.call("state", cid).ok

    def _expect(self, r, ok, what):
        if ok and not r.ok:
            raise Fail(f"{what} failed: {r.describe()}")
        return r

    def wait_status(self, b, status, timeout=10):
        deadline = time.monotonic() + timeout
        st = None
        while time.monotonic() < deadline:
            st = self.state(b)
            if st.get("status") == status:
                return st
            time.sleep(0.02)
        raise Fail(f"status did not become {status!r} (last {st and st.get('status')!r})")

    def running(self, b):
        """create + start a long-lived container and return its state."""
        self.create(b)
        self.start(b)
        return self.wait_status(b, "running")

    def run(self, b, *extra, timeout=30):
        """Foreground `run`, its stdout/stderr captured (the container exits by itself)."""
        b.write()
        return self.rt.call("run", "--bundle", b.dir, *extra, b.id, timeout=timeout)

    def probe(self, b, *paths, expect_rc=0):
        """Runs the probe as the container process; returns its facts as a dict."""
        b.process["args"] = ["/bin/probe", *paths]
        r = self.run(b)
        if expect_rc is not None and r.returncode != expect_rc:
            raise Fail(f"probe container: {r.describe()}")
        try:
            return json.loads(r.stdout)
        except ValueError:
            raise Fail(f"probe output is not JSON (rc {r.returncode}): "
                       f"{(r.stdout or r.stderr)[:300]!r}")

    def facts(self, scenario):
        """Facts from a shared scenario: one container for the many cases that read it."""
        return self.suite.scenario_facts(scenario, self)

    def features(self):
        return self.suite.features()

    # -- teardown: only what this case made
    def cleanup(self):
        for b in self.bundles:
            r = self.rt.call("state", b.id)
            if r.ok:
                self.rt.call("kill", b.id, "KILL")
                self.rt.call("delete", "--force", b.id)
        for b in self.bundles:
            for pid in cgroups.pids_in(b.cgroups_path):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            cgroups.remove_tree(b.cgroups_path)


class Suite:
    """Shared state of one run: runtime, workspace, cached scenarios and features."""

    def __init__(self, runtime, ws, run_id):
        self.runtime, self.ws, self.run_id = runtime, ws, run_id
        self._lock = threading.Lock()
        self._scenarios = {}
        self._features = None

    def scenario_facts(self, name, ctx):
        from .scenarios import SCENARIOS
        with self._lock:
            slot = self._scenarios.setdefault(name, {"lock": threading.Lock()})
        with slot["lock"]:
            if "facts" not in slot and "error" not in slot:
                sctx = Ctx(self, f"s{name[:8]}")
                try:
                    slot["facts"] = SCENARIOS[name](sctx)
                except (Fail, Skip) as e:
                    slot["error"] = e
                finally:
                    sctx.cleanup()
            if "error" in slot:
                raise type(slot["error"])(f"scenario {name}: {slot['error']}")
            return slot["facts"]

    def features(self):
        with self._lock:
            if self._features is None:
                r = self.runtime.call("features")
                try:
                    self._features = r.json() if r.ok else {}
                except ValueError:
                    self._features = {}
            return self._features
