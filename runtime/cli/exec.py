"""pyrunc exec: not supported yet (exit status 255 for exec errors, as runc)."""


def main(ctx, args):
    from pyrunc.errors import PyruncError
    e = PyruncError("exec is not supported by pyrunc yet")
    e.exit_code = 255
    raise e
