"""Redaction: secrets masked in any text the client shows, in any plausible encoding.

A :class:`Redactor` is built once from the secrets (the password and the Basic token) and
applied to every error message and every answer the client hands back.
"""

from __future__ import annotations

import base64
import re
from typing import Any

_JSON_SHORT_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "\b": "b", "\f": "f", "\n": "n", "\r": "r", "\t": "t"}
_HTML_NAMES = {"&": "amp", "<": "lt", ">": "gt", '"': "quot", "'": "apos"}
_ESCAPE_MARKS = ("\\", "%", "&")
"""A text without these can only hold a secret as is (or with ``+`` for a space)."""
MASK = "***"


def _char_forms(char: str) -> str:
    """A regex for ``char`` in any form an answer could plausibly carry it.

    As is; JSON-escaped (``\\uXXXX``, a surrogate pair, ``\\/``, ``\\"`` ..., also escaped
    twice); URL-encoded (each UTF-8 byte as ``%XX``, ``+`` for a space, as ``quote`` and
    ``quote_plus`` write them); HTML-escaped (``&#NN;``, ``&#xHH;``, ``&amp;`` ...).
    """
    code = ord(char)
    backslashes = r"(?:\\)+"
    if code > 0xFFFF:
        high, low = divmod(code - 0x10000, 0x400)
        unicode_escape = rf"{backslashes}(?i:u{0xD800 + high:04x}){backslashes}(?i:u{0xDC00 + low:04x})"
    else:
        unicode_escape = rf"{backslashes}(?i:u{code:04x})"
    forms = [re.escape(char), unicode_escape]
    if char in _JSON_SHORT_ESCAPES:
        forms.append(backslashes + re.escape(_JSON_SHORT_ESCAPES[char]))
    forms.append("".join(f"(?i:%{byte:02x})" for byte in char.encode("utf-8", "surrogatepass")))
    if char == " ":
        forms.append(r"\+")
    forms.append(f"&#0*{code};")
    forms.append(f"(?i:&#x0*{code:x};)")
    if char in _HTML_NAMES:
        forms.append(f"&{_HTML_NAMES[char]};")
    return "(?:" + "|".join(forms) + ")"


def secret_spellings(secrets: tuple[str, ...]) -> list[str]:
    """Each secret, and its base64 (standard and URL-safe, without padding), longest first.

    So an API that echoes the password base64-encoded on its own is masked too.
    """
    spellings: set[str] = set()
    for secret in filter(None, secrets):
        spellings.add(secret)
        encoded = secret.encode("utf-8", "surrogatepass")
        for b64 in (base64.b64encode(encoded), base64.urlsafe_b64encode(encoded)):
            spellings.add(b64.decode().rstrip("="))
        spellings.add(secret.rstrip("="))
    return sorted(spellings, key=len, reverse=True)  # longest first: nothing of one left behind


def secret_pattern(spellings: list[str]) -> re.Pattern[str]:
    """One regex for every spelling in every plausible encoding (see :func:`_char_forms`)."""
    return re.compile("|".join("".join(_char_forms(char) for char in spelling) for spelling in spellings))


class Redactor:
    """Masks ``secrets`` (and their base64) by ``***`` in text and in parsed JSON.

    Built once per client: the pattern is compiled here, so each :meth:`redact` is one scan
    (none at all for a text that cannot hold a secret).
    """

    def __init__(self, secrets: tuple[str, ...]) -> None:
        self.secrets = secrets
        spellings = secret_spellings(secrets)
        self._pattern = secret_pattern(spellings) if spellings else None
        self._plain_spellings = tuple({spelling.replace("+", " ") for spelling in spellings})

    def __repr__(self) -> str:
        return f"Redactor({len(self.secrets)} secret(s))"  # never the secrets

    def redact(self, text: str) -> str:
        """Replace any secret in ``text``, in any plausible encoding, by ``***``."""
        if self._pattern is None:
            return text
        # Fast path (most answers): no escape characters and no secret as is, so nothing to mask.
        if not any(mark in text for mark in _ESCAPE_MARKS):
            plain = text.replace("+", " ")
            if not any(spelling in plain for spelling in self._plain_spellings):
                return text
        return self._pattern.sub(MASK, text)

    def redact_value(self, value: Any) -> Any:
        """``value`` (a parsed JSON answer) with every string in it, keys too, redacted."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, list):
            return [self.redact_value(item) for item in value]
        if isinstance(value, dict):
            return {self.redact_value(key): self.redact_value(item) for key, item in value.items()}
        return value
