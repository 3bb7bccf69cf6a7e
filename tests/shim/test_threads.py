"""The _thread-based primitives the daemon uses instead of the threading module."""
import time

from pyrunc_shim import threads


def test_thread_join_and_timeout():
    gate = threads.Event()
    t = threads.Thread(target=gate.wait, args=(5,)).start()
    t.join(0.05)
    assert not gate.is_set()
    started = time.monotonic()
    gate.set()
    t.join(5)
    assert time.monotonic() - started < 1
    threads.Thread(target=lambda: None).join()  # never started: returns at once


def test_event_wait_timeout_and_set():
    ev = threads.Event()
    t0 = time.monotonic()
    assert ev.wait(0.05) is False
    assert time.monotonic() - t0 >= 0.04
    threads.Thread(target=lambda: (time.sleep(0.05), ev.set())).start()
    assert ev.wait(5) is True and ev.is_set()


def test_condition_notify_one_and_all():
    cond = threads.Condition()
    woke = []

    def waiter(name):
        with cond:
            if cond.wait(5):
                woke.append(name)

    ts = [threads.Thread(target=waiter, args=(n,)).start() for n in range(3)]
    deadline = time.monotonic() + 5
    while len(cond._waiters) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    with cond:
        cond.notify()
    deadline = time.monotonic() + 5
    while len(woke) < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(woke) == 1
    with cond:
        cond.notify_all()
    for t in ts:
        t.join(5)
    assert sorted(woke) == [0, 1, 2]
    with cond:
        assert cond.wait(0.01) is False and cond._waiters == []
