"""runc command-line behaviour that callers (containerd's go-runc, conmon, runtime-tools)
depend on beyond the spec's abstract operations: exec with a process file, kill --all,
delete --force, JSON logs, pid files, --root isolation, create flags.
"""
import json
import os
import re
import shlex
import signal
import subprocess
import time

from ..case import case, check, eq

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


@case("cli.exec.process-file-detach", "runc-cli#exec", "CLI",
      "exec --process FILE --detach --pid-file runs the process and writes its pid")
def _(t):
    b = t.sleeper()
    t.running(b)
    proc = dict(b.process, args=["sh", "-c", "echo exec-ran > /tmp/exec-marker; sleep 600"],
                cwd="/tmp")
    pfile, pidfile = b.path("proc.json"), b.path("exec.pid")
    with open(pfile, "w") as f:
        json.dump(proc, f)
    with open(b.path("exec.out"), "wb") as out:
        r = t.rt.call("exec", "--process", pfile, "--detach", "--pid-file", pidfile, b.id,
                      stdout=out, stderr=out)
    check(r.ok, f"exec failed ({r.returncode})")
    with open(pidfile) as f:
        pid = int(f.read())
    with open(f"/proc/{pid}/cgroup") as f:
        check(b.cgroups_path in f.read(), "exec'd pid is not in the container's cgroup")
    marker = os.path.join(b.rootfs, "tmp", "exec-marker")
    deadline = time.monotonic() + 5
    while not os.path.exists(marker) and time.monotonic() < deadline:
        time.sleep(0.02)
    check(os.path.exists(marker), "the exec'd process did not run in /tmp of the container")


@case("cli.exec.paused-error", "runc-cli#exec", "CLI", "exec in a paused container errors")
def _(t):
    b = t.sleeper()
    t.running(b)
    check(t.rt.call("pause", b.id).ok, "pause failed")
    r = t.rt.call("exec", b.id, "true", timeout=10)
    t.rt.call("resume", b.id)
    check(not r.ok, "exec in a paused container exited 0")


@case("cli.exec.cwd", "runc-cli#exec", "CLI", "exec --cwd sets the working directory")
def _(t):
    b = t.sleeper()
    t.running(b)
    r = t.rt.call("exec", "--cwd", "/etc", b.id, "/bin/probe")
    check(r.ok, f"exec failed: {r.describe()}")
    eq(json.loads(r.stdout)["cwd"], "/etc", "cwd")


@case("cli.kill.all", "runc-cli#kill", "CLI",
      "kill --all KILL is accepted and stops the container")
def _(t):
    b = t.bundle(args=["sh", "-c", "sleep 600 & exec sleep 601"])
    t.running(b)
    r = t.rt.call("kill", "--all", b.id, "KILL")
    check(r.ok, f"kill --all failed: {r.describe()}")
    t.wait_status(b, "stopped")


@case("cli.delete.force-created", "runc-cli#delete", "CLI",
      "delete --force removes a created container")
def _(t):
    b = t.sleeper()
    t.create(b)
    t.delete(b, force=True)
    check(t.state_fails(b.id), "state still succeeds")


@case("cli.delete.force-paused", "runc-cli#delete", "CLI",
      "delete --force removes a paused container")
def _(t):
    b = t.sleeper()
    t.running(b)
    check(t.rt.call("pause", b.id).ok, "pause failed")
    t.delete(b, force=True)
    check(t.state_fails(b.id), "state still succeeds")


def json_log_of_failure(t):
    b = t.sleeper()
    b.config["root"]["path"] = "no-such-rootfs"
    b.write()
    log = b.path("log.json")
    with open(b.out, "ab") as out, open(b.err, "ab") as err:
        r = t.rt.call("--log", log, "--log-format", "json", "create", "--bundle", b.dir, b.id,
                      stdout=out, stderr=err)
    check(not r.ok, "create exited 0")
    check(os.path.exists(log), "no log file written")
    with open(log) as f:
        return [json.loads(line) for line in f if line.strip()]


@case("cli.log.json-error", "runc-cli#log", "CLI",
      "--log-format json writes JSON lines, the last error line with a msg (containerd reads it)")
def _(t):
    entries = json_log_of_failure(t)
    errors = [e for e in entries if e.get("level") == "error"]
    check(errors and errors[-1].get("msg"), f"no error entry with msg in {entries[-3:]}")


@case("cli.log.json-time", "runc-cli#log", "CLI", "JSON log lines carry an RFC 3339 time")
def _(t):
    entries = json_log_of_failure(t)
    bad = [e.get("time") for e in entries if not RFC3339.match(str(e.get("time", "")))]
    check(entries and not bad, f"bad times {bad[:3]}")


@case("cli.pid-file.format", "runc-cli#create", "CLI",
      "the pid file holds only the decimal pid (go-runc parses it strictly)")
def _(t):
    b = t.sleeper()
    t.create(b, "--pid-file", b.path("pid"))
    with open(b.path("pid")) as f:
        text = f.read()
    check(re.fullmatch(r"\d+", text), f"pid file content {text!r}")


@case("cli.root.isolated", "runc-cli#global", "CLI",
      "containers under one --root are invisible under another")
def _(t):
    b = t.sleeper()
    t.create(b)
    other = os.path.join(t.suite.ws.dir, f"other-root-{t.prefix}")
    os.makedirs(other)
    r = t.rt.with_root(other).call("state", b.id)
    check(not r.ok, "state under another --root found the container")


@case("cli.create.no-pivot", "runc-cli#create", "CLI",
      "create --no-pivot still gives the container its rootfs as /")
def _(t):
    b = t.bundle(args=["sh", "-c", "test -x /bin/probe && echo rootfs-ok"])
    b.write()
    r = t.rt.call("run", "--no-pivot", "--bundle", b.dir, b.id)
    eq((r.returncode, r.stdout.strip()), (0, "rootfs-ok"), "result")


@case("cli.create.no-new-keyring", "runc-cli#create", "CLI", "create --no-new-keyring works")
def _(t):
    b = t.sleeper()
    t.create(b, "--no-new-keyring")
    eq(t.state(b)["status"], "created", "status")


@case("cli.create.config-frozen", "runtime.md#create", "MUST",
      "changes to config.json after create do not affect the container")
def _(t):
    b = t.bundle(args=["sh", "-c", "echo original > /tmp/which; exec sleep 600"])
    t.create(b)
    b.process["args"] = ["sh", "-c", "echo changed > /tmp/which; exec sleep 600"]
    b.write()
    t.start(b)
    marker = os.path.join(b.rootfs, "tmp", "which")
    deadline = time.monotonic() + 5
    while not os.path.exists(marker) and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.05)
    with open(marker) as f:
        eq(f.read().strip(), "original", "the program that ran")


@case("devices.config.path-conflict", "config-linux.md#devices", "MUST",
      "a device path where a different file already exists fails create")
def _(t):
    from .errors import failing_create
    failing_create(t, lambda b: b.linux.update(devices=[
        {"path": "/etc/ro-file", "type": "c", "major": 1, "minor": 3}]))


@case("cli.run.keep", "runc-cli#run", "CLI", "run --keep leaves the stopped container")
def _(t):
    b = t.bundle(args=["true"])
    b.write()
    r = t.rt.call("run", "--keep", "--bundle", b.dir, b.id)
    check(r.ok, f"run --keep failed: {r.describe()}")
    eq(t.state(b)["status"], "stopped", "status")


@case("cli.listen-fds", "runc-cli#create", "CLI",
      "LISTEN_FDS/LISTEN_PID naming the runtime pass fd 3 on as LISTEN_FDS=1, LISTEN_PID=1")
def _(t):
    b = t.bundle(args=["/bin/probe"])
    b.write()
    argv = " ".join(shlex.quote(a) for a in t.rt.argv("run", "--bundle", b.dir, b.id))
    r_fd, w_fd = os.pipe()
    try:
        # $$ is the shell's pid, which exec keeps: the runtime (and any exec-ing wrapper)
        # sees LISTEN_PID equal to its own pid, as systemd socket activation arranges.
        # fd 3 is in pass_fds so the child's close-fds step keeps the dup2'd pipe.
        p = subprocess.run(["sh", "-c", f"LISTEN_FDS=1 LISTEN_PID=$$ exec {argv}"],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=30,
                           pass_fds=(r_fd, 3), preexec_fn=lambda: os.dup2(r_fd, 3))
    finally:
        os.close(r_fd)
        os.close(w_fd)
    check(p.returncode == 0, f"run failed: {p.stderr.decode()[-200:]}")
    f = json.loads(p.stdout)
    env = dict(e.split("=", 1) for e in f["env"] if "=" in e)
    eq((env.get("LISTEN_FDS"), env.get("LISTEN_PID")), ("1", "1"), "LISTEN_FDS, LISTEN_PID")
    check(f["fds"].get("3", "").startswith("pipe:"), f"fds {f['fds']}")


@case("cli.run.forwards-signals", "runc-cli#run", "CLI",
      "foreground run forwards SIGTERM to the container process and returns its status")
def _(t):
    b = t.bundle(args=["sh", "-c", "trap 'exit 42' TERM; touch /tmp/ready; "
                       "while :; do sleep 0.05; done"])
    b.write()
    p = subprocess.Popen(t.rt.argv("run", "--bundle", b.dir, b.id), stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ready = os.path.join(b.rootfs, "tmp", "ready")
        deadline = time.monotonic() + 10
        while not os.path.exists(ready) and time.monotonic() < deadline:
            time.sleep(0.02)
        check(os.path.exists(ready), "the container did not start")
        p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    eq(rc, 42, "exit status of run")
