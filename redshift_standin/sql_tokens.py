"""A small SQL tokenizer: enough for Redshift's COPY grammar and for finding statement boundaries.

It knows string literals ('' escaping, E'...' escapes, $tag$ dollar quoting), quoted identifiers,
comments and punctuation, so a ';' or a keyword inside a literal is never mistaken for syntax.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from redshift_standin.errors import CopySyntaxError


class Kind(StrEnum):
    WORD = "word"
    QIDENT = "quoted identifier"
    STRING = "string"
    NUMBER = "number"
    PUNCT = "punctuation"
    OTHER = "symbol"


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    value: str
    """Unescaped content: a literal's text, an identifier's name, a keyword as written."""
    start: int
    end: int

    def is_word(self, *words: str) -> bool:
        return self.kind is Kind.WORD and self.value.upper() in words

    def is_punct(self, char: str) -> bool:
        return self.kind is Kind.PUNCT and self.value == char


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<line_comment>--[^\n]*)
  | (?P<block_comment>/\*.*?\*/)
  | (?P<estring>[eE]'(?:[^'\\]|\\.|'')*')
  | (?P<string>'(?:[^'\\]|\\.|'')*')
  | (?P<qident>"(?:[^"]|"")*")
  | (?P<dollar>\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$)
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<word>[^\W\d][\w$]*)
  | (?P<punct>[(),.;])
  | (?P<unterminated>['"]|/\*)
  | (?P<other>::|\S)
    """,
    re.VERBOSE | re.DOTALL,
)

_E_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}


def _unescape_e_string(body: str) -> str:
    body = body.replace("''", "'")
    return _ESCAPE.sub(_unescape_one, body)


# '\ddd' is an octal character code ("ASCII characters can also be represented in octal, using
# the format '\ddd'", copy-parameters-data-format.md), so NULL AS '\0' / '\000' means NUL.
_ESCAPE = re.compile(r"\\([0-7]{1,3}|.)", re.S)


def _unescape_one(match: re.Match[str]) -> str:
    escaped = match.group(1)
    if escaped[0] in "01234567":
        return chr(int(escaped, 8))
    return _E_ESCAPES.get(escaped, escaped)


def tokenize(sql: str) -> list[Token]:
    """Split `sql` into tokens, dropping whitespace and comments.

    Raises CopySyntaxError on an unterminated literal, identifier or comment.
    """
    tokens: list[Token] = []
    pos = 0
    while pos < len(sql):
        match = _TOKEN.match(sql, pos)
        if match is None:  # pragma: no cover - the `other` branch matches any non-space
            raise CopySyntaxError(f"cannot tokenize SQL at offset {pos}")
        group, text, end = match.lastgroup, match.group(), match.end()
        if group == "unterminated":
            raise CopySyntaxError(f"unterminated {text!r} at offset {pos}")
        if group == "dollar":
            close = sql.find(text, end)
            if close < 0:
                raise CopySyntaxError(f"unterminated dollar-quoted string at offset {pos}")
            tokens.append(Token(Kind.STRING, sql[end:close], pos, close + len(text)))
            end = close + len(text)
        elif group == "string":
            # Redshift reads backslash escapes in plain literals too (the loader's
            # quote_literal doubles backslashes for that reason).
            tokens.append(Token(Kind.STRING, _unescape_e_string(text[1:-1]), pos, end))
        elif group == "estring":
            tokens.append(Token(Kind.STRING, _unescape_e_string(text[2:-1]), pos, end))
        elif group == "qident":
            tokens.append(Token(Kind.QIDENT, text[1:-1].replace('""', '"'), pos, end))
        elif group in ("number", "word", "punct", "other"):
            tokens.append(Token(Kind(_KINDS[group]), text, pos, end))
        pos = end
    return tokens


_KINDS = {"number": "number", "word": "word", "punct": "punctuation", "other": "symbol"}


def split_statements(tokens: list[Token]) -> list[list[Token]]:
    """Group tokens into statements at top-level ';', dropping empty statements."""
    statements: list[list[Token]] = [[]]
    for token in tokens:
        if token.is_punct(";"):
            statements.append([])
        else:
            statements[-1].append(token)
    return [statement for statement in statements if statement]


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """A standard-conforming string literal (the PostgreSQL default since 9.1)."""
    return "'" + value.replace("'", "''") + "'"
