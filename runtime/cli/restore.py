"""pyrunc restore: not supported yet."""


def main(ctx, args):
    from pyrunc.errors import PyruncError
    raise PyruncError("restore is not supported by pyrunc yet")
