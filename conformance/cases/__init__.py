"""Case modules, one per area of the spec; importing this package registers them all."""
from . import lifecycle  # noqa: F401
