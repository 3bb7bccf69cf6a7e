"""Stats readers on fake files: runc's types.Stats shape and omitempty behaviour."""
from pyrunc.cgroups import stats


def test_v2_stats(tmp_path):
    w = lambda n, t: (tmp_path / n).write_text(t)
    w("cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 4\nnr_throttled 1\nthrottled_usec 7\n")
    w("memory.current", "4096\n")
    w("memory.max", "max\n")
    w("memory.swap.current", "100\n")
    w("memory.swap.max", "max\n")
    w("memory.stat", "anon 1024\nfile 2048\n")
    w("memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    w("pids.current", "2\n")
    w("pids.max", "max\n")
    w("io.stat", "8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n")
    w("hugetlb.2MB.current", "0\n")
    w("hugetlb.2MB.events", "max 0\n")
    s = stats.v2(str(tmp_path))
    assert s["cpu"] == {"usage": {"total": 1500000, "kernel": 500000, "user": 1000000},
                        "throttling": {"periods": 4, "throttled_periods": 1, "throttled_time": 7000}}
    assert s["memory"]["usage"] == {"limit": 2 ** 64 - 1, "usage": 4096, "failcnt": 3}
    assert s["memory"]["cache"] == 2048 and s["memory"]["raw"]["anon"] == 1024
    assert s["memory"]["swap"] == {"limit": 2 ** 64 - 1, "usage": 4196, "failcnt": 0}  # v1 meaning: mem+swap
    assert s["pids"] == {"current": 2}
    assert s["blkio"]["ioServiceBytesRecursive"][0] == {"major": 8, "op": "Read", "value": 10}
    assert s["hugetlb"] == {"2MB": {"failcnt": 0}}
    assert list(s) == ["cpu", "memory", "pids", "blkio", "hugetlb", "intel_rdt", "network_interfaces"]


def test_v1_stats(tmp_path):
    acct, mem = tmp_path / "cpuacct", tmp_path / "memory"
    acct.mkdir()
    mem.mkdir()
    (acct / "cpuacct.usage").write_text("300\n")
    (acct / "cpuacct.usage_percpu").write_text("100 200\n")
    (acct / "cpuacct.stat").write_text("user 2\nsystem 1\n")
    (mem / "memory.usage_in_bytes").write_text("8192\n")
    (mem / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    (mem / "memory.max_usage_in_bytes").write_text("9000\n")
    (mem / "memory.failcnt").write_text("0\n")
    (mem / "memory.stat").write_text("cache 4096\nrss 4096\n")
    s = stats.v1({"cpuacct": str(acct), "memory": str(mem)})
    assert s["cpu"]["usage"]["total"] == 300 and s["cpu"]["usage"]["percpu"] == [100, 200]
    assert s["cpu"]["usage"]["user"] == 20000000 and s["cpu"]["usage"]["kernel"] == 10000000
    assert s["memory"]["usage"] == {"limit": 2 ** 64 - 1, "usage": 8192, "max": 9000, "failcnt": 0}
    assert s["memory"]["cache"] == 4096
