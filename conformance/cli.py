"""Command line: `python -m conformance --runtime PATH [...]` and `... table FILES`.

Exit status: 0 when no case regressed (against --expected, or any failure without it),
1 on regressions, 2 on set-up errors.
"""
import argparse
import json
import os
import secrets
import sys
import time

from . import cgroups, table
from .case import REGISTRY, Suite
from .runner import load_expected, regressions, run_all, select
from .runtime import Runtime
from .workspace import SetupError, Workspace


def parse(argv):
    p = argparse.ArgumentParser(prog="python -m conformance",
                                description="OCI runtime conformance suite")
    p.add_argument("--runtime", help="path of the runtime binary (runc-compatible CLI)")
    p.add_argument("--name", help="runtime name in results (default: binary name)")
    p.add_argument("--filter", help="run cases whose id contains this or matches this regex")
    p.add_argument("--wrap", default="", help="command prefix put before the runtime binary")
    p.add_argument("--expected", help="expected failures/skips file for this runtime")
    p.add_argument("--table", help="write a markdown table of this run's results here")
    p.add_argument("--results", help="write this run's results as JSON here")
    p.add_argument("--jobs", type=int, default=4, help="cases run in parallel (default 4)")
    p.add_argument("--workdir", default=None, help="where the temp workspace goes")
    p.add_argument("--keep", action="store_true", help="keep the workspace for debugging")
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    p.add_argument("-v", "--verbose", action="store_true")
    return p.parse_args(argv)


def main(argv):
    if argv and argv[0] == "table":
        runs = [table.load(path) for path in argv[1:]]
        sys.stdout.write(table.render(runs))
        return 0
    from . import cases  # noqa: F401  (registers every case)
    args = parse(argv)
    selected = select(args.filter)
    if args.list:
        for c in selected:
            print(f"{c.id}\t{c.level}\t{c.clause}\t{c.title}")
        return 0
    if not args.runtime:
        print("--runtime is required", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("the suite runs real containers and needs root", file=sys.stderr)
        return 2
    expected = load_expected(args.expected)
    unknown = sorted(set(expected) - {c.id for c in REGISTRY})
    for cid in unknown:
        print(f"# expected file names an unknown case: {cid}", file=sys.stderr)

    try:
        ws = Workspace(args.workdir, keep=args.keep)
    except SetupError as e:
        print(f"Bail out! {e}")
        return 2
    run_id = secrets.token_hex(3)
    runtime = Runtime(os.path.abspath(args.runtime), ws.root, args.wrap)
    runtime.name = args.name or runtime.name
    suite = Suite(runtime, ws, run_id)
    suite.verbose = args.verbose
    premade = set(cgroups.dirs_for(f"/{cgroups.PARENT}"))
    print(f"# runtime {runtime.path} ({runtime.version()}), run {run_id}, workspace {ws.dir}")
    t0 = time.monotonic()
    try:
        results = run_all(suite, selected, args.jobs, expected)
    finally:
        teardown(runtime, ws, run_id, premade)
    seconds = round(time.monotonic() - t0, 1)

    counts = {k: sum(r["result"] == k for r in results) for k in ("pass", "fail", "skip")}
    bad = regressions(results, expected) if args.expected else [
        r for r in results if r["result"] == "fail"]
    print(f"# {counts['pass']} pass, {counts['fail']} fail, {counts['skip']} skip "
          f"in {seconds}s; {len(bad)} unexpected")
    for r in bad:
        print(f"# unexpected {r['result']}: {r['id']}: {r['reason']}")
    run = {"runtime": runtime.name, "version": runtime.version(), "seconds": seconds,
           "expected": {k: list(v) for k, v in expected.items()}, "cases": results}
    if args.results:
        os.makedirs(os.path.dirname(os.path.abspath(args.results)), exist_ok=True)
        with open(args.results, "w") as f:
            json.dump(run, f, indent=1)
    if args.table:
        with open(args.table, "w") as f:
            f.write(table.render([run]))
    return 1 if bad else 0


def teardown(runtime, ws, run_id, premade):
    """Deletes leftover containers, then the run's cgroups, then the workspace."""
    r = runtime.call("list", "-q")
    for cid in r.stdout.split() if r.ok else []:
        runtime.call("kill", cid, "KILL")
        runtime.call("delete", "--force", cid)
    cgroups.remove_tree(f"/{cgroups.PARENT}/{run_id}")
    for d in cgroups.dirs_for(f"/{cgroups.PARENT}"):
        if d not in premade:
            try:
                os.rmdir(d)
            except OSError:
                pass
    with open("/proc/self/mountinfo") as f:
        leaked = [line.split()[4] for line in f if ws.dir in line.split()[4]]
    if leaked:
        print(f"# mounts left under the workspace, keeping it: {leaked[:5]}")
        return
    ws.cleanup()
