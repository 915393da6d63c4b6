"""COPY option text: the `extra_options` escape hatch, checked against the documented parameter
table (config/copy_parameters.py), and the tokenizer that also reads the original loader's
free-text `copyOptions` (config/copy_options.py `convert_original`)."""

from __future__ import annotations

import re
from typing import Literal, NamedTuple

from config.copy_parameters import (
    COLUMNAR_PAGE,
    PARAMETERS,
    columnar_names,
    extra_problem,
    suggestion,
)

# Each COPY keyword that a typed field (or the loader itself) owns, with the shape of its argument
# in option text, from the one parameter table (config/copy_parameters.py). extra_options may not
# use them; the original's free text is read with them.
FORMAT_FIELDS = (
    "delimiter",
    "quote_char",
    "escape",
    "remove_quotes",
    "ignore_header_rows",
    "serialize_to_json",
)
KEYWORDS: dict[str, tuple[str, str]] = {
    p.name: (p.field, p.shape) for p in PARAMETERS.values() if p.field is not None
}
AUTH_KEYWORDS = frozenset(p.name for p in PARAMETERS.values() if p.shape == "authorization")
CREDENTIAL_TEXT = re.compile(
    r"aws_access_key_id|aws_secret_access_key|aws_iam_role|token\s*=|master_symmetric_key", re.I
)


class OptionToken(NamedTuple):
    """One token of COPY option text."""

    kind: Literal["word", "number", "literal"]
    text: str
    """As written, safe to emit again."""
    value: str
    """Words and numbers as written; literals decoded."""


_WORD_OR_NUMBER = r"(?P<word>[A-Za-z_][A-Za-z0-9_]*)|(?P<number>\d+(?:\.\d+)?)"
_PLAIN_TOKEN = re.compile(rf"\s*(?:{_WORD_OR_NUMBER}|(?P<literal>'(?:[^']|'')*'))")
# How Redshift reads its literals: backslash escapes are live (its QUOTE_LITERAL doubles them).
_ESCAPED_TOKEN = re.compile(rf"\s*(?:{_WORD_OR_NUMBER}|(?P<literal>'(?:[^'\\]|''|\\.)*'))", re.S)
_LITERAL_ESCAPE = re.compile(r"''|\\([0-7]{1,3}|.)", re.S)
_C_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def decode_escaped(body: str) -> str:
    def one(match: re.Match[str]) -> str:
        code = match.group(1)
        if code is None:
            return "'"
        return chr(int(code, 8)) if code[0] in "01234567" else _C_ESCAPES.get(code, code)

    return _LITERAL_ESCAPE.sub(one, body)


def _unexpected(text: str, pos: int) -> str:
    rest = text[pos:].lstrip()
    if rest.startswith("'"):
        return "unbalanced quote: a '...' literal is not closed"
    if rest.startswith(("--", "/*", "*/")):
        return "comment markers are not allowed"
    return f"{rest[0]!r} is not allowed (only words, numbers and '...' literals)"


def tokenize(text: str, *, backslash_escapes: bool) -> list[OptionToken]:
    """Split option text into words, numbers and literals; anything else raises ValueError."""
    if "\x00" in text:
        raise ValueError("NUL characters are not allowed")
    pattern = _ESCAPED_TOKEN if backslash_escapes else _PLAIN_TOKEN
    tokens: list[OptionToken] = []
    pos, end = 0, len(text.rstrip())
    while pos < end:
        match = pattern.match(text, pos)
        if match is None:
            raise ValueError(_unexpected(text, pos))
        kind = match.lastgroup
        raw = match.group(kind or "")
        if kind == "literal":
            body = raw[1:-1]
            value = decode_escaped(body) if backslash_escapes else body.replace("''", "'")
            tokens.append(OptionToken("literal", raw, value))
        else:
            tokens.append(OptionToken("word" if kind == "word" else "number", raw, raw))
        pos = match.end()
    return tokens


def checked_extra(value: str, kind: str | None, max_error: int | None) -> list[str]:
    """Each parameter of `extra_options` checked against the documented table, normalized.

    `kind` is the data format (None when it did not validate: format checks are then skipped).
    """
    if "\\" in value:
        raise ValueError("extra_options: backslashes are not allowed (use the typed fields)")
    try:
        tokens = tokenize(value, backslash_escapes=False)
    except ValueError as exc:
        raise ValueError(f"extra_options: {exc}") from None
    for token in tokens:  # secrets first, whatever else is wrong, and never echoed
        if token.kind == "literal" and CREDENTIAL_TEXT.search(token.value):
            raise ValueError("extra_options must not carry credentials")
        if token.kind == "word" and token.value.upper() in AUTH_KEYWORDS:
            raise ValueError(
                f"extra_options must not carry authorization ({token.value.upper()}): "
                "set the target's copy_authorization"
            )
    parameters: list[str] = []
    pos = 0
    while pos < len(tokens):
        token = tokens[pos]
        if token.kind != "word":
            raise ValueError(f"extra_options: {token.text} does not follow a parameter")
        text, pos = _extra_parameter(tokens, pos, kind)
        name = text.split(" ", 1)[0]
        if any(p.split(" ", 1)[0] == name for p in parameters):
            raise ValueError(f"extra_options: {name} is given more than once")
        parameters.append(text)
    if max_error is not None and "IGNOREALLERRORS" in parameters:
        # copy-parameters-data-load.html: "You can't specify the IGNOREALLERRORS option if you
        # specify the MAXERROR option."
        raise ValueError("extra_options: IGNOREALLERRORS cannot be combined with max_error")
    return parameters


def _extra_parameter(tokens: list[OptionToken], pos: int, kind: str | None) -> tuple[str, int]:
    """The parameter at `pos` as normalized text, and the position after its argument."""
    word = tokens[pos].value.upper()
    parameter = PARAMETERS.get(word)
    if parameter is None:
        raise ValueError(f"extra_options: {word} is not a COPY parameter{suggestion(word)}")
    if parameter.shape == "format":
        raise ValueError(f"extra_options: {word} is a data format; the format is format.type")
    if parameter.field is not None:
        field = parameter.field
        owner = f"format.{field}" if field in FORMAT_FIELDS else field
        raise ValueError(f"extra_options: {word} is set through {owner}")
    problem = extra_problem(parameter)
    if problem is not None:
        raise ValueError(f"extra_options: {problem}")
    if kind in {"parquet", "orc"} and kind not in parameter.formats:
        raise ValueError(
            f"extra_options: {word} does not apply to Parquet and ORC, which take only "
            f"{columnar_names()} ({COLUMNAR_PAGE})"
        )
    if kind is not None and kind not in parameter.formats:
        raise ValueError(f"extra_options: {word} does not apply to format {kind!r}")
    if parameter.shape == "flag":
        return word, pos + 1
    # The free parameters take no argument or, COMPROWS, a whole number in documented bounds.
    argument = tokens[pos + 1] if pos + 1 < len(tokens) else None
    if argument is None or argument.kind != "number" or not argument.text.isdigit():
        raise ValueError(f"extra_options: {word} takes a number")
    low, high = parameter.bounds or (0, 2**31 - 1)
    if not low <= int(argument.text) <= high:
        raise ValueError(f"extra_options: {word} must be between {low} and {high}")
    return f"{word} {int(argument.text)}", pos + 2
