"""Init and exec processes; the init's lifecycle is one state object per status.

Each state accepts only the operations that are legal in it and names the next state, so
an illegal call (pause a stopped task, start twice) becomes FailedPrecondition in one place.
"""
from pyrunc_shim import threads

from pyrunc_shim.ttrpc import FAILED_PRECONDITION, NOT_FOUND, RpcError

UNKNOWN, CREATED, RUNNING, STOPPED, PAUSED = 0, 1, 2, 3, 4


class Process:
    """What both kinds share: identity, stdio, exit bookkeeping."""

    def __init__(self, pid_id, io, stdin, stdout, stderr, terminal):
        self.id = pid_id
        self.io = io
        self.stdin, self.stdout, self.stderr, self.terminal = stdin, stdout, stderr, terminal
        self.pid = 0
        self.exit_status = 0
        self.exited_at = 0          # ns since the epoch, 0 while running
        self.exited = False         # reaped
        self.reported = threads.Event()  # TaskExit queued: Wait may return
        self.starting = False       # an exit now must wait for the start event
        self.pending_exit = False

    def set_exited(self, status, ts):
        self.exit_status = status
        self.exited_at = ts
        self.exited = True


# -- init states -------------------------------------------------------------------------

class State:
    status = UNKNOWN

    def _refuse(self, what):
        raise RpcError(FAILED_PRECONDITION, "cannot %s a %s task" % (what, self.name))

    @property
    def name(self):
        return type(self).__name__.lower()

    def start(self, init):
        self._refuse("start")

    def pause(self, init):
        self._refuse("pause")

    def resume(self, init):
        self._refuse("resume")

    def update(self, init, resources):
        self._refuse("update")

    def delete(self, init):
        self._refuse("delete")

    def kill(self, init, signal, all_):
        init.runtime.kill(init.cid, signal, all_)

    def exited(self, init):
        return Stopped()


class Created(State):
    status = CREATED

    def start(self, init):
        init.runtime.run("start", init.cid)
        return Running()

    def delete(self, init):
        # runc deletes a created container by killing its parked init.
        init.runtime.delete(init.cid)
        return Deleted()


class Running(State):
    status = RUNNING

    def pause(self, init):
        init.runtime.run("pause", init.cid)
        return Paused()

    def update(self, init, resources):
        init.runtime.update(init.cid, resources)
        return self

    def delete(self, init):
        raise RpcError(FAILED_PRECONDITION, "cannot delete a running task; kill it first")


class Paused(Running):
    status = PAUSED

    def pause(self, init):
        self._refuse("pause")

    def resume(self, init):
        init.runtime.run("resume", init.cid)
        return Running()

    def delete(self, init):
        raise RpcError(FAILED_PRECONDITION, "cannot delete a paused task")


class Stopped(State):
    status = STOPPED

    def kill(self, init, signal, all_):
        if all_:
            # The cgroup may still hold processes when there was no private PID namespace.
            try:
                init.runtime.kill(init.cid, signal, True)
            except RpcError:
                pass
            return
        raise RpcError(NOT_FOUND, "process already finished")

    def delete(self, init):
        try:
            init.runtime.delete(init.cid)
        except RpcError as err:
            if "does not exist" not in err.message:
                raise
        return Deleted()

    def exited(self, init):
        return self


class Deleted(State):
    status = STOPPED

    def kill(self, init, signal, all_):
        raise RpcError(NOT_FOUND, "process already finished")

    def delete(self, init):
        raise RpcError(NOT_FOUND, "container %s already deleted" % init.cid)

    def exited(self, init):
        return self


class Init(Process):
    def __init__(self, cid, bundle, runtime, io, stdin, stdout, stderr, terminal):
        super().__init__(cid, io, stdin, stdout, stderr, terminal)
        self.cid = cid
        self.bundle = bundle
        self.runtime = runtime
        self.state = Created()
        self.lock = threads.Lock()  # serialises runtime transitions, never held by the reaper
        self.state_lock = threads.Lock()  # only guards the swap, so the reaper never waits long

    @property
    def status(self):
        return self.state.status

    def transition(self, op, *args):
        with self.lock:
            nxt = getattr(self.state, op)(self, *args)
            if nxt is not None:
                with self.state_lock:
                    # An exit reaped while the runtime call ran wins over the call's outcome.
                    self.state = nxt.exited(self) if self.exited else nxt

    def on_exit(self, status, ts):
        with self.state_lock:
            self.set_exited(status, ts)
            self.state = self.state.exited(self)


# -- exec processes ----------------------------------------------------------------------

class Exec(Process):
    def __init__(self, exec_id, spec_json, io, stdin, stdout, stderr, terminal):
        super().__init__(exec_id, io, stdin, stdout, stderr, terminal)
        self.spec_json = spec_json
        self.started = False

    @property
    def status(self):
        if self.exited:
            return STOPPED
        return RUNNING if self.started else CREATED

    def kill(self, signal):
        import os
        if not self.started:
            raise RpcError(FAILED_PRECONDITION, "exec %s not started" % self.id)
        if self.exited:
            raise RpcError(NOT_FOUND, "process already finished")
        try:
            os.kill(self.pid, signal)
        except ProcessLookupError:
            raise RpcError(NOT_FOUND, "process already finished") from None
