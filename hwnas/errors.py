"""The one error type users see: a bad value, said in one line."""


class HwnasError(ValueError):
    """Bad input. The message is one line naming the value and what is allowed.

    The CLI prints it as ``hwnas: error: <message>`` and exits with code 2.
    """

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


def allowed(values) -> str:
    """Render a set of allowed values the same way everywhere."""
    return ", ".join(str(v) for v in values)


def check_int(value, what: str, minimum: int = 1) -> int:
    """``value`` as an int: an integer >= ``minimum`` (not a bool or float), else HwnasError."""
    from numbers import Integral

    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise HwnasError(f"{what} {value!r} is not allowed; allowed: an integer >= {minimum}")
    return int(value)
