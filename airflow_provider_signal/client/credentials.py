"""Credentials in free text: a URL's password and the value after a sensitive key, masked.

Airflow's secrets masker hides only the secrets it was given (a connection or variable read in
this process); a task that builds ``postgresql://etl:S3cr3t@db/warehouse`` itself gives it
nothing, and its error would go to a phone as it is. :class:`CredentialMasker` masks, in any
text:

- the user-info of a URL: ``postgresql://etl:***@db:5432/warehouse`` (the user name kept, the
  password masked); a user-info without a password is masked whole (``https://***@github.com``),
  since a token is often passed that way;
- the value after a key whose name holds one of the sensitive names (``password``, ``token`` ...:
  Airflow's list, passed in, so this module stays plain Python) and then ``=`` or ``:``, in the
  forms a log line or a traceback shows: ``key=value``, ``key: value``, ``"key": "value"``,
  ``'key': 'value'``, ``db_password=...`` (a name matches as a part of the key, in any case, as
  Airflow matches it). A key right after ``/`` or ``@`` is a URL's path or host, not a key: the
  link to a task's log (``http://host:8080/dags/etl/runs/r1/tasks/load?try_number=1``) stays whole.

Linear in the text's length: the URL scan starts only at ``://``; the key scan only at a ``=`` or
``:``, reading the key backwards from it on a reversed copy of the text (the names as one trie, so
a position costs a character or two); every quantifier is bounded and no two can trade
characters, so nothing backtracks over a long word. A key of more than 96 characters besides its
longest sensitive name, or whose name ends more than 48 characters before its ``=``, is not seen.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

MASK = "***"

_USER_MAX = 256
_PASSWORD_MAX = 1024
_KEY_SIDE = 48
"""At most this many characters of a key after the sensitive name in it (``password_of_the_db=``),
and as many more before it."""
_VALUE_MAX = 8192
"""A value is masked up to this many characters (a private key in JSON fits)."""
_URL_USERINFO = re.compile(
    rf"://(?P<user>[^\s:/?#@\"'<>]{{0,{_USER_MAX}}})(?::(?P<password>[^\s/?#\"'<>]{{0,{_PASSWORD_MAX}}}))?@"
)
"""``://user:password@``; the password reaches the last ``@`` before the host (a raw ``@`` in it
is still masked whole). Quotes, ``<`` and ``>`` end it: they are not in a URL."""

_UNQUOTED_END = "\\s\"'`,;&)\\]}>"
"""What ends a value not in quotes: white space, a quote, a separator of a list, a query string
or a call, a closing bracket."""


def _quoted(quote: str) -> str:
    """A value in ``quote``: to the closing one (escapes skipped), or to the end of the line."""
    name = "dq" if quote == '"' else "sq"
    return rf"(?P<{name}>{quote})(?:[^{quote}\\\n]|\\.){{0,{_VALUE_MAX}}}(?P<{name}_end>{quote}?)"


_VALUE = re.compile(
    r"[ \t]{0,8}\\{0,3}"  # after the "=" or ":"
    rf"(?P<value>{_quoted(chr(34))}|{_quoted(chr(39))}"
    rf"|(?P<scheme>(?i:bearer|basic|token)[ \t]{{1,8}})?[^{_UNQUOTED_END}]{{1,{_VALUE_MAX}}})"
)
"""A value: quoted, or one word; a ``Bearer``/``Basic``/``Token`` word before a credential is kept."""


def _trie(names: list[str]) -> str:
    """One regex for ``names`` as a trie: at each position the engine compares a character or
    two, not every name. ``_`` in a name also matches ``-`` and ``.`` (Airflow 3 reads every run
    of non-word characters in a key as ``_``)."""
    tree: dict[str, dict[str, Any]] = {}
    for name in names:
        node = tree
        for char in name:
            node = node.setdefault(char, {})
        node[""] = {}  # a name ends here

    def pattern(node: dict[str, Any]) -> str:
        branches = [
            ("[_.-]" if char == "_" else re.escape(char)) + pattern(node[char])
            for char in sorted(node)
            if char
        ]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
        return f"(?:{body})?" if "" in node else body

    return pattern(tree)


def _reversed_key(names: list[str]) -> re.Pattern[str]:
    """A ``=`` or ``:`` and the key before it, on the reversed text (see :meth:`CredentialMasker.redact`).

    Reversed, the key follows its separator, so a search starts only at a separator (one
    character class, scanned at C speed) and reads the key from there: its closing quote, the
    key (one run of key characters, holding a reversed sensitive name near its end) and its
    opening quote; the character before the key must not be ``/`` or ``@`` (a URL's path or
    host: ``//secret-store:8080``), and the separator must not start ``://``.
    """
    quote = r"(?:[\"']\\{0,3})"
    key_max = 2 * _KEY_SIDE + max(len(name) for name in names)
    return re.compile(
        rf"[=:](?<!//[=:])[ \t]{{0,8}}{quote}?(?=[\w.-]{{0,{_KEY_SIDE}}}?{_trie([n[::-1] for n in names])})"
        rf"[\w.-]{{1,{key_max}}}(?![\w.-])(?:{quote}(?![/@])|(?![/@\"'\\]))"
    )


def sensitive_names(names: Iterable[str]) -> list[str]:
    """``names`` lower-cased, stripped, blanks dropped (Airflow reads an empty name as "every
    key"; here it would mask every ``a=b``), sorted, without duplicates."""
    return sorted({name.strip().lower() for name in names if isinstance(name, str)} - {""})


class CredentialMasker:
    """Masks URL passwords and the values of sensitive keys (see the module docstring).

    Built once per hook from the names Airflow's masker treats as sensitive: the patterns are
    compiled here, so each :meth:`redact` is a few linear scans.
    """

    def __init__(self, names: Iterable[str]) -> None:
        self.names = tuple(sensitive_names(names))
        keys = _reversed_key(list(self.names)) if self.names else None
        self._keys = (keys, re.compile(keys.pattern, re.IGNORECASE)) if keys is not None else None

    def __repr__(self) -> str:
        return f"CredentialMasker({len(self.names)} sensitive name(s))"

    def redact(self, text: str) -> str:
        """``text`` with every URL password and every value of a sensitive key as ``***``."""
        if "://" in text:
            text = _URL_USERINFO.sub(_mask_userinfo, text)
        if self._keys is not None and ("=" in text or ":" in text):
            text = _mask_values(text, *self._keys)
        return text


def _mask_values(text: str, keys: re.Pattern[str], keys_any_case: re.Pattern[str]) -> str:
    """Each value after a sensitive key masked: keys found on a reversed, lower-cased copy (a
    character lower-cased into two, as ``İ``, would shift it: then case-blind on the text),
    each value then read forwards from its separator."""
    lowered = text.lower()
    if len(lowered) == len(text):
        separators = [match.start() for match in keys.finditer(lowered[::-1])]
    else:
        separators = [match.start() for match in keys_any_case.finditer(text[::-1])]
    parts: list[str] = []
    done = 0
    for separator in (len(text) - 1 - position for position in reversed(separators)):  # from the start
        if separator < done:
            continue  # inside a value already masked (password=token=...)
        value = _VALUE.match(text, separator + 1)
        if value is None:
            continue
        parts += [text[done : value.start("value")], _masked(value)]
        done = value.end()
    return "".join(parts) + text[done:] if parts else text


def _mask_userinfo(match: re.Match[str]) -> str:
    if match["password"] is None:
        return f"://{MASK}@"
    return f"://{match['user']}:{MASK}@"


def _masked(value: re.Match[str]) -> str:
    for quote in ("dq", "sq"):
        if value[quote] is not None:
            return f"{value[quote]}{MASK}{value[quote + '_end']}"
    return f"{value['scheme'] or ''}{MASK}"
