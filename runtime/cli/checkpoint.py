"""pyrunc checkpoint: not supported yet (podman probes `checkpoint --help`'s exit code)."""


def main(ctx, args):
    from pyrunc.errors import PyruncError
    raise PyruncError("checkpoint is not supported by pyrunc yet")
