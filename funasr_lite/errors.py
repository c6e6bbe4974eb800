"""The two exception types that batch drivers catch per item.

``InputError`` means one input item (an audio file, a list line, a transcript) is bad;
``ModelError`` means a model folder, checkpoint or config is bad. Both carry a one-line
message that names the item and the problem.
"""


class InputError(ValueError):
    """A bad input item. ``str(err)`` is ``"<item>: <problem>"``."""

    def __init__(self, item: object, problem: str) -> None:
        self.item = str(item)
        self.problem = problem
        super().__init__(f"{self.item}: {problem}")


class ModelError(ValueError):
    """A bad model folder, checkpoint or config. ``str(err)`` is ``"<path>: <problem>"``."""

    def __init__(self, path: object, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


def one_line(value: object) -> str:
    """An exception or reason squeezed onto one line (for ``item: problem`` messages)."""
    return " ".join(str(value).split()) or type(value).__name__
