"""pytest fixtures for tests/robustness (defined in probsupport.py)."""
from probsupport import _prob_cgroup_parent, pbundle, prt  # noqa: F401
