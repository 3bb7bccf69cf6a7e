"""containerd-shim-pyrunc-v1: a containerd shim v2 that drives a runc-compatible runtime CLI."""
VERSION = "0.1.0"
