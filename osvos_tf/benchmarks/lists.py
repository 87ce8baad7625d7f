"""Comma-separated lists, as the benchmark tools take them (``--sequences a,b``, ``--iterations 0,50,200``).

Each function turns one option's text into a tuple; empty items (``"a,,b"``, a trailing comma) are dropped.
The ``what`` argument names the option in error messages (e.g. ``"--iterations"``).

    comma_names("none, bilateral")         # ('none', 'bilateral')
    comma_ints("0,50,200", "--iterations") # (0, 50, 200)
    comma_pairs("128:8,512:16", "--bilateral")  # ((128.0, 8.0), (512.0, 16.0))
"""

from __future__ import annotations


def comma_names(text: str | None) -> tuple[str, ...]:
    """The stripped, non-empty items of ``text`` (``()`` for None or ``""``)."""
    if not text:
        return ()
    return tuple(item.strip() for item in text.split(",") if item.strip())


def comma_ints(text: str, what: str = "the list") -> tuple[int, ...]:
    """The integers of a comma-separated ``text``.

    Raises:
        ValueError: an item is not an integer (the message names ``what`` and quotes ``text``).
    """
    try:
        return tuple(int(item) for item in comma_names(text))
    except ValueError:
        raise ValueError(f"{what} takes integers separated by commas, got {text!r}.") from None


def comma_floats(text: str, what: str = "the list") -> tuple[float, ...]:
    """The numbers of a comma-separated ``text``.

    Raises:
        ValueError: an item is not a number.
    """
    try:
        return tuple(float(item) for item in comma_names(text))
    except ValueError:
        raise ValueError(f"{what} takes numbers separated by commas, got {text!r}.") from None


def comma_pairs(text: str, what: str = "the list") -> tuple[tuple[float, float], ...]:
    """The ``a:b`` number pairs of a comma-separated ``text`` (e.g. ``"128:8,512:16"``).

    Raises:
        ValueError: an item is not two numbers joined by ``:``.
    """
    pairs = []
    for item in comma_names(text):
        parts = item.split(":")
        try:
            if len(parts) != 2:
                raise ValueError
            pairs.append((float(parts[0]), float(parts[1])))
        except ValueError:
            raise ValueError(
                f"{what} takes pairs a:b of numbers separated by commas (e.g. 128:8,512:16), got {text!r}."
            ) from None
    return tuple(pairs)
