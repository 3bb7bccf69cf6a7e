"""containerd.task.v2/v3 Task service: maps each RPC onto processes, the runtime and events."""
from _collections import deque  # the collections package costs ~2 ms to import
import os
from pyrunc_shim import threads

from pyrunc_shim import options as options_mod
from pyrunc_shim.events import Publisher
from pyrunc_shim.io import ProcessIO
from pyrunc_shim.manager import DELETED_MARKER
from pyrunc_shim.process import Exec, Init
from pyrunc_shim.runtime_client import Runtime, find_binary
from pyrunc_shim.ttrpc import (ALREADY_EXISTS, FAILED_PRECONDITION, NOT_FOUND, UNIMPLEMENTED,
                               UNKNOWN, Method, RpcError)
from pyrunc_shim.wire import Package

pb = Package("containerd.task.v2")
EMPTY = Package("google.protobuf").Empty()
PROCESS_DETAILS = "containerd.runc.v1.ProcessDetails"
OUTPUT_DRAIN_TIMEOUT = 2.0  # output kept open by leftover processes must not stall exits


class Container:
    def __init__(self, cid, bundle, runtime, init, rootfs, mounts, pidns):
        self.id = cid
        self.bundle = bundle
        self.runtime = runtime
        self.init = init
        self.rootfs = rootfs          # mounted by us, to unmount on delete
        self.mounts = mounts
        self.pidns = pidns            # private PID namespace: the kernel kills the rest on init exit
        self.execs = {}
        self.held_exit = False        # init exited while execs still ran
        self.deleted = False
        self.oom = None


def _has_private_pidns(bundle):
    from pyrunc_shim.jsonlite import loads
    try:
        with open(os.path.join(bundle, "config.json"), "rb") as f:
            spec = loads(f.read())
    except (OSError, ValueError):
        return True
    for ns in spec.get("linux", {}).get("namespaces", []) or []:
        if ns.get("type") == "pid" and not ns.get("path"):
            return True
    return False


def _read_pid(path):
    with open(path) as f:
        return int(f.read().strip())


class TaskService:
    def __init__(self, reaper, publisher: Publisher, namespace):
        self.reaper = reaper
        self.events = publisher
        self.namespace = namespace
        self.containers = {}
        self.lock = threads.RLock()   # container table and exit ordering; never held across I/O
        self.shutting_down = False
        self.exits = deque()
        self.exits_ready = threads.Condition()
        threads.Thread(target=self._exit_worker, daemon=True).start()

    def methods(self):
        names = ("State Create Start Delete Pids Pause Resume Checkpoint Kill Exec ResizePty "
                 "CloseIO Update Wait Stats Connect Shutdown").split()
        requests = {
            "Create": pb.CreateTaskRequest, "Exec": pb.ExecProcessRequest,
            "ResizePty": pb.ResizePtyRequest, "CloseIO": pb.CloseIORequest,
            "Checkpoint": pb.CheckpointTaskRequest, "Update": pb.UpdateTaskRequest,
        }
        return {n: Method(requests.get(n) or getattr(pb, n + "Request"), getattr(self, n))
                for n in names}

    # -- lookups

    def _container(self, cid):
        c = self.containers.get(cid)
        if c is None:
            raise RpcError(NOT_FOUND, "container %s: not found" % cid)
        return c

    def _process(self, cid, exec_id):
        c = self._container(cid)
        if not exec_id:
            return c, c.init
        e = c.execs.get(exec_id)
        if e is None:
            raise RpcError(NOT_FOUND, "process %s: not found" % exec_id)
        return c, e

    # -- exits (called on the reaper thread: no blocking here)

    def _on_exit(self, c, proc, status, ts):
        with self.lock:
            if proc is c.init:
                c.init.on_exit(status, ts)
            else:
                proc.set_exited(status, ts)
            if proc.starting:
                proc.pending_exit = True
                return
            self._report(c, proc)

    def _kill_all(self, c):
        try:
            c.runtime.kill(c.id, 9, True)
        except RpcError:
            pass

    def _report(self, c, proc):
        if proc is c.init:
            if any(e.started and not e.reported.is_set() for e in c.execs.values()):
                c.held_exit = True  # the init's exit goes out after its execs'
                return
        if not c.deleted:
            self.events.publish("TaskExit", container_id=c.id, id=proc.id, pid=proc.pid,
                                exit_status=proc.exit_status, exited_at=proc.exited_at)
        proc.reported.set()
        if proc is not c.init and c.held_exit and not any(
                e.started and not e.reported.is_set() for e in c.execs.values()):
            c.held_exit = False
            self._report(c, c.init)

    def _watch(self, c, proc):
        self.reaper.watch(proc.pid, lambda status, ts: self._queue_exit(c, proc, status, ts))

    def _queue_exit(self, c, proc, status, ts):
        if proc is c.init and not c.pidns:
            # Leftover processes may hold the output open: kill them before waiting for it.
            threads.Thread(target=self._kill_all, args=(c,), daemon=True).start()
        with self.exits_ready:
            self.exits.append((c, proc, status, ts))
            self.exits_ready.notify()

    def _exit_worker(self):
        """Reports exits in reaping order, each once the process's output reached the client:
        a client deletes the task (and stops reading) as soon as it sees the exit."""
        while True:
            with self.exits_ready:
                while not self.exits:
                    self.exits_ready.wait()
                c, proc, status, ts = self.exits.popleft()
            proc.io.wait(OUTPUT_DRAIN_TIMEOUT)
            self._on_exit(c, proc, status, ts)

    def _end_start(self, c, proc):
        with self.lock:
            proc.starting = False
            if proc.pending_exit:
                proc.pending_exit = False
                self._report(c, proc)

    # -- RPCs

    def State(self, req):
        c, p = self._process(req.id, req.exec_id)
        resp = pb.StateResponse(id=c.id, bundle=c.bundle, pid=p.pid, status=p.status,
                                stdin=p.stdin, stdout=p.stdout, stderr=p.stderr,
                                terminal=p.terminal, exit_status=p.exit_status, exec_id=req.exec_id)
        if p.exited:
            resp.exited_at.FromNanoseconds(p.exited_at)
        return resp

    def Create(self, req):
        with self.lock:
            if req.id in self.containers:
                raise RpcError(ALREADY_EXISTS, "container %s: already exists" % req.id)
            self.containers[req.id] = None  # reserve the id while the runtime works
        try:
            return self._create(req)
        except BaseException:
            with self.lock:
                self.containers.pop(req.id, None)
            raise

    def _create(self, req):
        if req.checkpoint:
            raise RpcError(UNIMPLEMENTED, "restore from checkpoint is not supported")
        bundle = req.bundle
        opts = options_mod.parse(*self._options_any(req))
        binary = find_binary(opts.binary)
        with open(os.path.join(bundle, "options.json"), "w") as f:
            f.write(opts.to_json())
        with open(os.path.join(bundle, "runtime"), "w") as f:
            f.write(binary)
        rootfs = os.path.join(bundle, "rootfs")
        mounted = False
        if len(req.rootfs):
            from pyrunc_shim import mounts
            os.makedirs(rootfs, 0o711, exist_ok=True)
            mounts.mount_all(req.rootfs, rootfs)
            mounted = True
        runtime = Runtime(binary, opts.root_for(self.namespace), bundle, self.reaper,
                          opts.systemd_cgroup)
        io = ProcessIO(req.stdin, req.stdout, req.stderr, req.terminal, opts.io_uid, opts.io_gid,
                       req.id, self.namespace)
        init = Init(req.id, bundle, runtime, io, req.stdin, req.stdout, req.stderr, req.terminal)
        pid_file = os.path.join(bundle, "init.pid")
        try:
            console = io.prepare()
            runtime.create(req.id, bundle, pid_file, io.child, console, opts.no_pivot_root,
                           opts.no_new_keyring)
            io.started()
            init.pid = _read_pid(pid_file)
        except BaseException as err:
            io.close()
            if mounted:
                from pyrunc_shim import mounts
                mounts.unmount_all(rootfs)
            if isinstance(err, RpcError):
                raise RpcError(err.code, "OCI runtime create failed: %s" % err.message) from None
            raise
        c = Container(req.id, bundle, runtime, init, rootfs if mounted else "", list(req.rootfs),
                      _has_private_pidns(bundle))
        with self.lock:
            self.containers[req.id] = c
            self._watch(c, init)
        events = Package("containerd.events")
        self.events.publish("TaskCreate", container_id=req.id, bundle=bundle, rootfs=c.mounts,
                            io=events.TaskIO(stdin=req.stdin, stdout=req.stdout,
                                                 stderr=req.stderr, terminal=req.terminal),
                            pid=init.pid)
        self._watch_oom(c)
        return pb.CreateTaskResponse(pid=init.pid)

    @staticmethod
    def _options_any(req):
        """Create's options, else what `start` received (containerd >= 2.3 sends them there)."""
        if req.options.type_url or req.options.value:
            return req.options.type_url, req.options.value
        try:
            from pyrunc_shim.jsonlite import loads
            with open(os.path.join(req.bundle, "shim-options.json")) as f:
                saved = loads(f.read())
            return saved["type_url"], bytes.fromhex(saved["value"])
        except (OSError, ValueError, KeyError):
            return "", b""

    def _watch_oom(self, c):
        try:
            from pyrunc_shim import oom
            c.oom = oom.watch(c.init.pid, lambda: self.events.publish("TaskOOM", container_id=c.id))
        except Exception:  # OOM events are best effort
            c.oom = None

    def Start(self, req):
        c, p = self._process(req.id, req.exec_id)
        if req.exec_id:
            return self._start_exec(c, p)
        with self.lock:
            p.starting = True
        try:
            p.transition("start")
            self.events.publish("TaskStart", container_id=c.id, pid=p.pid)
        finally:
            self._end_start(c, p)
        return pb.StartResponse(pid=p.pid)

    def _start_exec(self, c, e):
        if c.init.exited:
            raise RpcError(FAILED_PRECONDITION, "container %s is stopped" % c.id)
        if e.started:
            raise RpcError(FAILED_PRECONDITION, "exec %s already started" % e.id)
        spec_file = os.path.join(c.bundle, ".exec-%s.json" % e.id)
        pid_file = os.path.join(c.bundle, "%s.pid" % e.id)
        with open(spec_file, "wb") as f:
            f.write(e.spec_json)
        try:
            console = e.io.prepare()
            c.runtime.exec(c.id, spec_file, pid_file, e.io.child, console)
            e.io.started()
            e.pid = _read_pid(pid_file)
        except BaseException as err:
            e.io.close()
            if isinstance(err, RpcError):
                raise RpcError(err.code, "OCI runtime exec failed: %s" % err.message) from None
            raise
        finally:
            try:
                os.unlink(spec_file)
            except OSError:
                pass
        e.started = True
        self.events.publish("TaskExecStarted", container_id=c.id, exec_id=e.id, pid=e.pid)
        # Watching only now keeps the exit after ExecStarted; an earlier exit waits in the reaper.
        with self.lock:
            self._watch(c, e)
        return pb.StartResponse(pid=e.pid)

    def Delete(self, req):
        c, p = self._process(req.id, req.exec_id)
        if req.exec_id:
            if p.started and not p.exited:
                raise RpcError(FAILED_PRECONDITION, "cannot delete running exec %s" % p.id)
            p.io.wait()
            p.io.close()
            try:
                os.unlink(os.path.join(c.bundle, "%s.pid" % p.id))
            except OSError:
                pass
            with self.lock:
                c.execs.pop(p.id, None)
            return self._delete_response(p)
        if p.exited:
            p.io.wait()
        if c.oom is not None and (p.exited or p.status == 1):
            c.oom.close()  # before the runtime removes the cgroup, which also fires the eventfd
        p.transition("delete")
        with self.lock:
            c.deleted = True
            self.containers.pop(c.id, None)
        p.io.close()
        if c.oom is not None:
            c.oom.close()
        if c.rootfs:
            from pyrunc_shim import mounts
            mounts.unmount_all(c.rootfs)
        try:
            with open(os.path.join(c.bundle, DELETED_MARKER), "w"):
                pass
        except OSError:
            pass
        resp = self._delete_response(p)
        self.events.publish("TaskDelete", container_id=c.id, pid=p.pid,
                            exit_status=resp.exit_status, exited_at=p.exited_at or 0, id=c.id)
        return resp

    @staticmethod
    def _delete_response(p):
        resp = pb.DeleteResponse(pid=p.pid, exit_status=p.exit_status)
        if p.exited:
            resp.exited_at.FromNanoseconds(p.exited_at)
        return resp

    def Pids(self, req):
        c = self._container(req.id)
        by_pid = {e.pid: e.id for e in c.execs.values() if e.pid}
        resp = pb.PidsResponse()
        for pid in c.runtime.ps(c.id):
            info = resp.processes.add(pid=pid)
            if pid in by_pid:
                details = Package("containerd.runc.v1").ProcessDetails(exec_id=by_pid[pid])
                info.info.type_url = PROCESS_DETAILS
                info.info.value = details.SerializeToString()
        return resp

    def Pause(self, req):
        c = self._container(req.id)
        c.init.transition("pause")
        self.events.publish("TaskPaused", container_id=c.id)
        return EMPTY

    def Resume(self, req):
        c = self._container(req.id)
        c.init.transition("resume")
        self.events.publish("TaskResumed", container_id=c.id)
        return EMPTY

    def Checkpoint(self, req):
        raise RpcError(UNIMPLEMENTED, "checkpoint is not supported by containerd-shim-pyrunc-v1")

    def Kill(self, req):
        c, p = self._process(req.id, req.exec_id)
        if req.exec_id:
            p.kill(req.signal)
        else:
            p.transition("kill", req.signal, req.all)
        return EMPTY

    def Exec(self, req):
        c = self.containers.get(req.id)
        if c is None:
            raise RpcError(NOT_FOUND, "container %s: container not created" % req.id)
        if c.init.exited:
            raise RpcError(FAILED_PRECONDITION, "container %s is stopped" % req.id)
        from pyrunc_shim.jsonlite import dumps, loads
        try:
            spec = loads(req.spec.value or b"{}")
        except ValueError as err:
            raise RpcError(UNKNOWN, "exec spec: %s" % err) from None
        spec["terminal"] = req.terminal
        io = ProcessIO(req.stdin, req.stdout, req.stderr, req.terminal, 0, 0, req.id, self.namespace)
        e = Exec(req.exec_id, dumps(spec).encode(), io, req.stdin, req.stdout, req.stderr,
                 req.terminal)
        with self.lock:
            if req.exec_id in c.execs:
                raise RpcError(ALREADY_EXISTS, "exec %s: already exists" % req.exec_id)
            c.execs[req.exec_id] = e
        self.events.publish("TaskExecAdded", container_id=c.id, exec_id=req.exec_id)
        return EMPTY

    def ResizePty(self, req):
        _, p = self._process(req.id, req.exec_id)
        p.io.resize(req.width, req.height)
        return EMPTY

    def CloseIO(self, req):
        _, p = self._process(req.id, req.exec_id)
        if req.stdin:
            p.io.close_stdin()
        return EMPTY

    def Update(self, req):
        c = self._container(req.id)
        c.init.transition("update", req.resources.value)
        return EMPTY

    def Wait(self, req):
        _, p = self._process(req.id, req.exec_id)
        p.reported.wait()
        resp = pb.WaitResponse(exit_status=p.exit_status)
        resp.exited_at.FromNanoseconds(p.exited_at)
        return resp

    def Stats(self, req):
        c = self._container(req.id)
        if c.init.exited:
            raise RpcError(NOT_FOUND, "container %s is not running" % c.id)
        from pyrunc_shim import stats
        type_url, value = stats.collect(c.init.pid)
        resp = pb.StatsResponse()
        resp.stats.type_url = type_url
        resp.stats.value = value
        return resp

    def Connect(self, req):
        c = self.containers.get(req.id)
        from pyrunc_shim import VERSION
        return pb.ConnectResponse(shim_pid=os.getpid(), task_pid=c.init.pid if c else 0,
                                  version=VERSION)

    def Shutdown(self, req):
        with self.lock:
            if self.containers and not req.now:
                return EMPTY
            self.shutting_down = True
        return EMPTY
