"""Where a request's secret is, in the ways real clients send one.

* ``Authorization: Bearer <token>`` — the SDK, OTLP exporters (``headers=``), Zipkin
  reporters, Prometheus (``authorization``) and Grafana.
* ``Authorization: Basic base64(user:token)`` — Elasticsearch clients (Logstash,
  Filebeat, Fluent Bit's ``HTTP_Passwd``), Loki clients (Promtail, Grafana Alloy, the
  Loki Docker driver), Prometheus ``basic_auth``. The password is the token; the user
  name is free (it appears nowhere). With an empty password the user name is taken, for
  clients that only have one field.
* ``Authorization: ApiKey base64(id:key)`` or ``ApiKey <key>`` — Elasticsearch API keys
  (Filebeat ``api_key``): the key part is the token.
* The UI's session cookie, set by ``POST /login``.

Sans-IO: header values in, a ``Presented`` out. Nothing here knows the tokens.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie

SESSION_COOKIE = "tracelake_session"
#: Longest Authorization or Cookie value looked at; anything longer is no credential.
MAX_HEADER_CHARS = 8192


@dataclass(frozen=True, slots=True)
class Presented:
    """What a request offers: a token from a header, or a session id from the cookie.

    ``basic`` marks a token from HTTP Basic auth: a browser may replay it on its own, as
    it does a cookie, so it needs the same cross-site care; Bearer and ApiKey headers are
    only ever set by the client itself.
    """

    token: str | None = None
    session: str | None = None
    basic: bool = False

    def __bool__(self) -> bool:
        return self.token is not None or self.session is not None


def from_authorization(value: str) -> str | None:
    """The token inside an ``Authorization`` header value, or None when there is none."""
    if not value or len(value) > MAX_HEADER_CHARS:
        return None
    scheme, _, rest = value.strip().partition(" ")
    scheme, rest = scheme.lower(), rest.strip()
    if not rest:
        return None
    if scheme == "bearer":
        return rest
    if scheme == "basic":
        decoded = _b64(rest)
        if decoded is None:
            return None
        user, _, password = decoded.partition(":")
        return password or user or None
    if scheme == "apikey":
        decoded = _b64(rest)
        if decoded is not None and ":" in decoded:
            return decoded.partition(":")[2] or None
        return rest
    return None


def _b64(text: str) -> str | None:
    try:
        return base64.b64decode(text, validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None


def session_from_cookie(header: str) -> str | None:
    """The session id in a ``Cookie`` header, or None."""
    if not header or SESSION_COOKIE not in header or len(header) > MAX_HEADER_CHARS:
        return None
    jar = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        return None
    morsel = jar.get(SESSION_COOKIE)
    return morsel.value if morsel is not None and morsel.value else None


def presented(authorization: str | None, cookie: str | None) -> Presented:
    """The credential of a request. A header wins over the cookie: API clients never
    carry the cookie, and a browser never sets an Authorization header on its own."""
    if authorization:
        token = from_authorization(authorization)
        if token is not None:
            return Presented(token=token, basic=authorization.lstrip()[:6].lower() == "basic ")
    if cookie:
        session = session_from_cookie(cookie)
        if session is not None:
            return Presented(session=session)
    return Presented()
