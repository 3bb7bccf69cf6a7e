"""Lifecycle and state: create/start/kill/delete and the state JSON they leave behind
(runtime.md#lifecycle, #state, #operations). Markers written by the container into its
rootfs show from the host whether (and when) the user process ran.
"""
import os
import signal
import time

from .. import cgroups
from ..case import case, check, eq
from ..config import set_namespace


def marker_bundle(t, script="touch /tmp/ran; exec sleep 600"):
    b = t.bundle(args=["sh", "-c", script])
    return b, os.path.join(b.rootfs, "tmp", "ran")


def wait_file(path, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path):
            return True
        time.sleep(0.02)
    return False


@case("lifecycle.create.status-created", "runtime.md#create", "MUST",
      "after create the state status is created")
def _(t):
    b = t.sleeper()
    t.create(b)
    eq(t.state(b)["status"], "created", "status")


@case("lifecycle.create.process-not-run", "runtime.md#create", "MUST",
      "create does not run the user-specified program")
def _(t):
    b, marker = marker_bundle(t)
    t.create(b)
    time.sleep(0.3)
    check(not os.path.exists(marker), "the program ran before start")


@case("lifecycle.start.runs-process", "runtime.md#start", "MUST",
      "start runs the user-specified program")
def _(t):
    b, marker = marker_bundle(t)
    t.create(b)
    t.start(b)
    check(wait_file(marker), "the program did not run after start")


@case("lifecycle.start.status-running", "runtime.md#start", "MUST",
      "after start of a long-running process the status is running")
def _(t):
    b = t.sleeper()
    t.create(b)
    t.start(b)
    eq(t.wait_status(b, "running")["status"], "running", "status")


@case("lifecycle.exit.status-stopped", "runtime.md#lifecycle", "MUST",
      "when the container process exits the status becomes stopped")
def _(t):
    b = t.bundle(args=["true"])
    t.create(b)
    t.start(b)
    t.wait_status(b, "stopped")


@case("lifecycle.delete.removes-state", "runtime.md#delete", "MUST",
      "after delete of a stopped container, state for its ID errors")
def _(t):
    b = t.bundle(args=["true"])
    t.create(b)
    t.start(b)
    t.wait_status(b, "stopped")
    t.delete(b)
    check(t.state_fails(b.id), "state still succeeds after delete")


@case("lifecycle.delete.removes-cgroup", "runtime.md#delete", "MUST",
      "delete removes the resources created at create (the container's cgroup)")
def _(t):
    b = t.bundle(args=["true"])
    t.create(b)
    check(cgroups.dirs_for(b.cgroups_path), "create made no cgroup at cgroupsPath")
    t.start(b)
    t.wait_status(b, "stopped")
    t.delete(b)
    left = cgroups.dirs_for(b.cgroups_path)
    check(not left, f"cgroup dirs left after delete: {left}")


@case("lifecycle.delete.id-reusable", "runtime.md#delete", "MUST",
      "after delete the ID can be used for a new container")
def _(t):
    b = t.bundle(args=["true"])
    t.create(b)
    t.kill(b, "KILL")
    t.wait_status(b, "stopped")
    t.delete(b)
    t.create(b)
    eq(t.state(b)["status"], "created", "status of the re-created container")


@case("lifecycle.kill.created", "runtime.md#kill", "MUST",
      "kill of a created container delivers the signal (SIGKILL stops it)")
def _(t):
    b = t.sleeper()
    t.create(b)
    t.kill(b, "KILL")
    t.wait_status(b, "stopped")


@case("lifecycle.kill.running-sigkill", "runtime.md#kill", "MUST",
      "kill KILL of a running container stops it")
def _(t):
    b = t.sleeper()
    t.running(b)
    t.kill(b, "KILL")
    t.wait_status(b, "stopped")


@case("lifecycle.kill.signal-delivered", "runtime.md#kill", "MUST",
      "kill sends the given signal to the container process (USR1 trapped)")
def _(t):
    b, marker = marker_bundle(
        t, "trap 'touch /tmp/ran; exit 0' USR1; while :; do sleep 0.05; done")
    t.running(b)
    time.sleep(0.2)
    t.kill(b, "USR1")
    check(wait_file(marker), "the USR1 trap did not run")
    t.wait_status(b, "stopped")


@case("lifecycle.kill.sigterm", "runtime.md#kill", "MUST",
      "kill TERM reaches a process that handles it")
def _(t):
    b = t.bundle(args=["sh", "-c", "trap 'exit 3' TERM; while :; do sleep 0.05; done"])
    t.running(b)
    time.sleep(0.2)
    t.kill(b, "TERM")
    t.wait_status(b, "stopped")


@case("lifecycle.run.exit-status", "runc-cli#run", "CLI",
      "run returns the exit status of the container process")
def _(t):
    b = t.bundle(args=["sh", "-c", "exit 7"])
    eq(t.run(b).returncode, 7, "exit status of run")


@case("lifecycle.run.signal-status", "runc-cli#run", "CLI",
      "run returns 128+signal when the container process is killed by a signal")
def _(t):
    # Not PID 1 of a PID namespace: that one cannot SIGKILL itself.
    b = t.bundle(args=["sh", "-c", "kill -9 $$"])
    set_namespace(b.config, "pid", present=False)
    eq(t.run(b).returncode, 137, "exit status of run")


@case("lifecycle.run.stdout", "runtime-linux.md#file-descriptors", "MUST",
      "the container's stdout is the runtime's stdout")
def _(t):
    b = t.bundle(args=["echo", "hello-from-container"])
    r = t.run(b)
    eq(r.stdout.strip(), "hello-from-container", "stdout")


@case("lifecycle.run.stderr", "runtime-linux.md#file-descriptors", "MUST",
      "the container's stderr is the runtime's stderr")
def _(t):
    b = t.bundle(args=["sh", "-c", "echo oops >&2"])
    r = t.run(b)
    check("oops" in r.stderr, f"stderr was {r.stderr[:200]!r}")


@case("lifecycle.run.removes-container", "runc-cli#run", "CLI",
      "run without --keep/-d deletes the container after it exits")
def _(t):
    b = t.bundle(args=["true"])
    eq(t.run(b).returncode, 0, "exit status")
    check(t.state_fails(b.id), "state still succeeds after run returned")


@case("lifecycle.run.detach", "runc-cli#run", "CLI", "run -d leaves a running container")
def _(t):
    b = t.sleeper()
    b.write()
    with open(b.out, "ab") as out, open(b.err, "ab") as err:
        r = t.rt.call("run", "-d", "--bundle", b.dir, b.id, stdout=out, stderr=err)
    check(r.ok, f"run -d failed: {r.returncode}")
    t.wait_status(b, "running")


@case("lifecycle.create.stdout-inherited", "runc-cli#create", "CLI",
      "a non-terminal container writes to the stdout create was given")
def _(t):
    b = t.bundle(args=["echo", "created-output"])
    t.create(b)
    t.start(b)
    t.wait_status(b, "stopped")
    check("created-output" in b.output(), f"create's stdout holds {b.output()[:200]!r}")


@case("lifecycle.create.pid-file", "runc-cli#create", "CLI",
      "--pid-file holds the container process PID, same as state")
def _(t):
    b = t.sleeper()
    pidfile = b.path("pid")
    t.create(b, "--pid-file", pidfile)
    with open(pidfile) as f:
        text = f.read()
    eq(text.strip(), str(t.state(b)["pid"]), "pid file contents")


@case("lifecycle.create.pid-file-relative", "runc-cli#create", "CLI",
      "a relative --pid-file is relative to the caller's cwd, not the bundle")
def _(t):
    b = t.sleeper()
    b.write()
    os.makedirs(b.path("cwd"))
    with open(b.out, "ab") as out, open(b.err, "ab") as err:
        r = t.rt.call("create", "--bundle", b.dir, "--pid-file", "p.pid", b.id,
                      stdout=out, stderr=err, cwd=b.path("cwd"))
    check(r.ok, "create failed")
    check(os.path.exists(b.path("cwd", "p.pid")), "no pid file in the caller's cwd")


@case("lifecycle.create.bundle-cwd-default", "runc-cli#create", "CLI",
      "without --bundle the current directory is the bundle")
def _(t):
    b = t.sleeper()
    b.write()
    with open(b.out, "ab") as out, open(b.err, "ab") as err:
        r = t.rt.call("create", b.id, stdout=out, stderr=err, cwd=b.dir)
    check(r.ok, "create failed")
    eq(t.state(b)["bundle"], b.dir, "bundle")


@case("lifecycle.delete.force-running", "runc-cli#delete", "CLI",
      "delete --force removes a running container")
def _(t):
    b = t.sleeper()
    st = t.running(b)
    t.delete(b, force=True)
    check(t.state_fails(b.id), "state still succeeds")
    check(process_gone(st["pid"], b), "the container process survived")


def process_gone(pid, b, timeout=3):
    """True once pid is gone, a zombie, or reused by a process outside the container."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            with open(f"/proc/{pid}/cgroup") as f:
                if state == "Z" or b.id not in f.read():
                    return True
        except (OSError, IndexError):
            return True
        time.sleep(0.02)
    return False


@case("lifecycle.kill.signal-number", "runc-cli#kill", "CLI", "kill accepts a signal number")
def _(t):
    b = t.sleeper()
    t.running(b)
    t.kill(b, "9")
    t.wait_status(b, "stopped")


@case("lifecycle.kill.signal-sigprefix", "runc-cli#kill", "CLI",
      "kill accepts a signal name with the SIG prefix")
def _(t):
    b = t.sleeper()
    t.running(b)
    t.kill(b, "SIGKILL")
    t.wait_status(b, "stopped")


@case("lifecycle.kill.unknown-signal", "runc-cli#kill", "CLI", "kill rejects an unknown signal")
def _(t):
    b = t.sleeper()
    t.running(b)
    r = t.kill(b, "NOSUCHSIG", ok=False)
    check(not r.ok, "kill with an unknown signal succeeded")
    eq(t.state(b)["status"], "running", "status")


@case("lifecycle.pause-resume", "runc-cli#pause", "CLI",
      "pause makes the status paused and resume makes it running again")
def _(t):
    b = t.sleeper()
    t.running(b)
    r = t.rt.call("pause", b.id)
    check(r.ok, f"pause failed: {r.describe()}")
    eq(t.state(b)["status"], "paused", "status after pause")
    r = t.rt.call("resume", b.id)
    check(r.ok, f"resume failed: {r.describe()}")
    eq(t.state(b)["status"], "running", "status after resume")


@case("lifecycle.pause.freezes", "runc-cli#pause", "CLI",
      "a paused container's process is frozen (does not run)")
def _(t):
    b = t.bundle(args=["sh", "-c", "while :; do date +%s%N > /tmp/tick; sleep 0.02; done"])
    t.running(b)
    tick = os.path.join(b.rootfs, "tmp", "tick")
    check(wait_file(tick), "the ticker did not start")
    check(t.rt.call("pause", b.id).ok, "pause failed")
    time.sleep(0.1)
    before = os.stat(tick).st_mtime_ns
    time.sleep(0.3)
    after = os.stat(tick).st_mtime_ns
    t.rt.call("resume", b.id)
    eq(after, before, "ticker mtime while paused")


@case("lifecycle.resume.not-paused", "runc-cli#resume", "CLI",
      "resume of a running (not paused) container errors")
def _(t):
    b = t.sleeper()
    t.running(b)
    check(not t.rt.call("resume", b.id).ok, "resume of a running container succeeded")


@case("lifecycle.kill.paused-sigkill", "runc-cli#kill", "CLI",
      "kill KILL of a paused container stops it")
def _(t):
    b = t.sleeper()
    t.running(b)
    check(t.rt.call("pause", b.id).ok, "pause failed")
    t.kill(b, "KILL")
    t.wait_status(b, "stopped")


@case("lifecycle.start.poststart-returns-while-running", "runtime.md#start", "MUST",
      "start returns while a long-running process keeps running")
def _(t):
    b = t.sleeper()
    t.create(b)
    t0 = time.monotonic()
    t.start(b)
    check(time.monotonic() - t0 < 5, "start took longer than 5 s")
    eq(t.state(b)["status"], "running", "status")


@case("lifecycle.exit.pid-stopped", "runtime.md#state", "MUST",
      "a stopped container's state still names its id and bundle")
def _(t):
    b = t.bundle(args=["true"])
    t.create(b)
    t.start(b)
    st = t.wait_status(b, "stopped")
    eq(st.get("id"), b.id, "id")
    eq(st.get("bundle"), b.dir, "bundle")




@case("lifecycle.exit.external-kill", "runtime.md#state", "MUST",
      "a container whose process is killed from outside the runtime reports stopped")
def _(t):
    b = t.sleeper()
    st = t.running(b)
    os.kill(st["pid"], signal.SIGKILL)
    t.wait_status(b, "stopped")


@case("lifecycle.delete.after-external-kill", "runtime.md#delete", "MUST",
      "a container killed from outside can be deleted and leaves no cgroup")
def _(t):
    b = t.sleeper()
    st = t.running(b)
    os.kill(st["pid"], signal.SIGKILL)
    t.wait_status(b, "stopped")
    t.delete(b)
    check(t.state_fails(b.id), "state still succeeds")
    check(not cgroups.dirs_for(b.cgroups_path), "cgroup dirs left")
