"""Device URLs made safe to show: credentials out, everything an operator recognises a device by kept.

A device URL may carry a secret (``rtsp://admin:PASSWORD@10.0.0.5/stream``, ``...?token=...``), and URLs end up
in health dicts, log lines, error messages and ``station doctor``. Everything that shows or logs a URL passes it
through :func:`redact_url` (or :func:`redact_text`, for a message that may quote one, such as FFmpeg's
``Connection refused: 'rtsp://admin:PASSWORD@...'``).

This lives in ``drivers`` because the drivers log URLs themselves and may import nothing from the station; the
station's command line, doctor and adapters import it from here (docs/architecture.md, import rules). Standard
library only, so importing it costs nothing.
"""

import re
import urllib.parse

MASK = "***"

# Query parameters whose value is a credential (compared case-insensitively, after percent-decoding).
SECRET_QUERY_KEYS = frozenset(
    {
        "password",
        "passwd",
        "pass",
        "pwd",
        "token",
        "access_token",
        "auth",
        "key",
        "apikey",
        "api_key",
        "secret",
        "signature",
        "sig",
    }
)

# A URL quoted inside free text: a scheme, "://", then anything up to whitespace, a quote or a bracket.
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>()\[\]{}]+")


def _redact_netloc(netloc: str) -> str:
    # The last "@" ends the userinfo: a password with an unescaped "@" in it is still cut off whole.
    userinfo, at, hostport = netloc.rpartition("@")
    if not at:
        return netloc
    user, colon, _password = userinfo.partition(":")
    return f"{user}:{MASK}@{hostport}" if colon else netloc


def _redact_query(query: str) -> str:
    # Piece by piece rather than parse + urlencode, so that every other parameter stays exactly as written.
    pieces = []
    for piece in query.split("&"):
        key, eq, _value = piece.partition("=")
        secret = eq and urllib.parse.unquote_plus(key).strip().lower() in SECRET_QUERY_KEYS
        pieces.append(f"{key}={MASK}" if secret else piece)
    return "&".join(pieces)


def redact_url(url: str) -> str:
    """``url`` with its password and credential query values replaced by ``***``.

    ``rtsp://admin:pw@10.0.0.5:554/ch1?token=abc&tcp=1`` becomes ``rtsp://admin:***@10.0.0.5:554/ch1?token=***&tcp=1``:
    scheme, user name, host, port, path and the other options stay, so the device is still recognisable. A URL
    without credentials comes back unchanged, and so does anything that is not a URL (a bare device path).
    """
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        # Unparseable (an unbalanced IPv6 bracket): show the scheme only rather than risk showing a password.
        return f"{url.partition('://')[0]}://{MASK}"
    netloc = _redact_netloc(parts.netloc)
    query = _redact_query(parts.query) if parts.query else parts.query
    if netloc == parts.netloc and query == parts.query:
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc, query=query))


def redact_text(text: str) -> str:
    """``text`` with every URL quoted in it passed through :func:`redact_url` (for error messages and logs)."""
    return _URL_IN_TEXT.sub(lambda match: redact_url(match.group(0)), text)
