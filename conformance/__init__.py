"""Runtime-agnostic OCI runtime conformance suite.

Drives any runc-compatible runtime only through its command line, runs a static probe
inside real containers and checks what it reports against the runtime-spec clauses.
Run from the repository root: ``python -m conformance --runtime /usr/sbin/runc``.
"""
