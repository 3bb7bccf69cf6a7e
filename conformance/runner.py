"""Runs the selected cases (optionally in parallel) and prints TAP in case order.

Each case runs in its own Ctx and is torn down right after, so a failing case cannot
leave containers that disturb later ones. Results are compared with an expected file.
"""
import concurrent.futures
import re
import sys
import time
import traceback

from .case import REGISTRY, Ctx, Fail, Skip


def select(pattern):
    cases = sorted(REGISTRY, key=lambda c: c.id)
    if not pattern:
        return cases
    try:
        rx = re.compile(pattern)
    except re.error:
        rx = None
    return [c for c in cases if pattern in c.id or (rx and rx.search(c.id))]


def run_one(suite, index, c):
    ctx = Ctx(suite, index)
    t0 = time.monotonic()
    try:
        c.fn(ctx)
        result, reason = "pass", ""
    except Fail as e:
        result, reason = "fail", str(e)
    except Skip as e:
        result, reason = "skip", str(e)
    except Exception as e:  # a bug in the case or an unexpected runtime reply
        result, reason = "fail", f"{type(e).__name__}: {e}"
        if suite.verbose:
            traceback.print_exc(file=sys.stderr)
    finally:
        try:
            ctx.cleanup()
        except Exception as e:
            print(f"# cleanup of {c.id} failed: {e}", file=sys.stderr)
    return {"id": c.id, "clause": c.clause, "level": c.level, "title": c.title,
            "result": result, "reason": " ".join(reason.split())[:400],
            "seconds": round(time.monotonic() - t0, 3)}


def tap_line(n, res, expected):
    exp = expected.get(res["id"])
    line = f"{'ok' if res['result'] != 'fail' else 'not ok'} {n} - {res['id']}"
    if res["result"] == "skip":
        line += f" # SKIP {res['reason']}"
    elif res["result"] == "fail":
        if exp and exp[0] == "fail":
            line += f" # TODO expected: {exp[1]} ({res['reason']})"
        else:
            line += f" # {res['reason']}"
    elif exp and exp[0] == "fail":
        line += " # expected to fail but passed"
    return line


def run_all(suite, cases, jobs, expected, out=sys.stdout):
    print(f"1..{len(cases)}", file=out, flush=True)
    results = [None] * len(cases)
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(run_one, suite, i, c): i for i, c in enumerate(cases)}
        printed = 0
        for fut in concurrent.futures.as_completed(futures):
            results[futures[fut]] = fut.result()
            while printed < len(cases) and results[printed] is not None:
                print(tap_line(printed + 1, results[printed], expected), file=out,
                      flush=True)
                printed += 1
    return results


def regressions(results, expected):
    """Cases whose result differs for the worse from the expected file (default: pass)."""
    bad = []
    for r in results:
        want = expected.get(r["id"], ("pass", ""))[0]
        if r["result"] == "fail" and want != "fail":
            bad.append(r)
        elif r["result"] == "skip" and want == "pass" and expected:
            # an unexplained skip is a regression only when an expected file is in use
            bad.append(r)
    return bad


def load_expected(path):
    """Lines `<case-id> fail|skip <one-line explanation>`; '#' starts a comment line."""
    expected = {}
    if not path:
        return expected
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(None, 2)
            if len(parts) < 2 or parts[1] not in ("fail", "skip"):
                raise ValueError(f"{path}:{lineno}: expected '<id> fail|skip <why>'")
            expected[parts[0]] = (parts[1], parts[2] if len(parts) > 2 else "")
    return expected
