"""Text from outside (message ids, Graph's codes and messages) made safe for one log line.

A producer's message id or a Graph error message may hold line breaks or terminal escapes: logged
raw, one could forge a log line or rewrite an operator's terminal. Every outside value that reaches
a log line goes through `escaped`.
"""

from __future__ import annotations

# Long enough for any id the bridge logs, and for an error with its fix; a hostile value cannot flood the log.
MAX_LOGGED_LENGTH = 300
MAX_LOGGED_ERROR_LENGTH = 1500


def escaped(value: object, limit: int = MAX_LOGGED_LENGTH) -> str:
    """`value` as one printable line: control and line-break characters as \\x.. / \\u.... escapes, bounded."""
    text = str(value)
    if not text.isprintable():
        text = "".join(character if character.isprintable() else _escape(character) for character in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _escape(character: str) -> str:
    return character.encode("unicode_escape").decode("ascii") if character != " " else character
