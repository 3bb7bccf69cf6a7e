"""pytest fixtures for tests/unit and tests/integration (defined in rtsupport.py)."""
from rtsupport import (_cgroup_parent, bundle, pyrunc, pytest_configure, runc,  # noqa: F401
                       runtime)
