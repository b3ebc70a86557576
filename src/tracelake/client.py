"""A small HTTP client for the native API, used by the CLI (and handy in scripts)."""

from __future__ import annotations

import gzip as gzip_module
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import orjson

from tracelake.errors import TracelakeError

DEFAULT_URL = "http://127.0.0.1:7700"


class ClientError(TracelakeError):
    """The server answered with an error, or could not be reached."""


class Client:
    def __init__(
        self, url: str = DEFAULT_URL, *, timeout: float = 60.0, token: str | None = None
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = with_scheme(url).rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout, headers=headers)

    def close(self) -> None:
        self._http.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as e:
            raise ClientError(_unreachable(self.url, e)) from e
        if response.status_code >= 400 and response.status_code != 503:
            raise ClientError(_error_text(response))
        return response

    def search(self, query: str, **params: Any) -> dict[str, Any]:
        clean = {k: v for k, v in params.items() if v is not None}
        data: dict[str, Any] = self._request(
            "GET", "/api/v1/search", params={"q": query, **clean}
        ).json()
        return data

    def sql(
        self, sql: str, params: list[Any] | None = None, *, as_of: int | str | None = None
    ) -> dict[str, Any]:
        """``as_of``: a table version or an RFC 3339 time to read the lake as of."""
        payload: dict[str, Any] = {"sql": sql, "params": params or []}
        if as_of is not None:
            payload["as_of"] = as_of
        body = orjson.dumps(payload)
        data: dict[str, Any] = self._request(
            "POST", "/api/v1/sql", content=body, headers={"Content-Type": "application/json"}
        ).json()
        return data

    def ping(self) -> None:
        """Raise ClientError (one line, what to do) unless the server answers."""
        self._request("GET", "/-/health", timeout=10)

    def lake_tables(self) -> list[dict[str, Any]]:
        """What ``GET /api/v1/lake/tables`` answers: a summary per table."""
        tables: list[dict[str, Any]] = self._request("GET", "/api/v1/lake/tables").json()["tables"]
        return tables

    def lake_partitions(self, table: str) -> list[dict[str, Any]]:
        path = f"/api/v1/lake/tables/{table}/partitions"
        found: list[dict[str, Any]] = self._request("GET", path).json()["partitions"]
        return found

    def lake_export(self, table: str, out: Path, **params: str | None) -> int:
        """Stream ``table``'s export (``format``, ``from``, ``to``, ``where``) into ``out``;
        returns its rows. Written beside ``out`` first, so a failure leaves no half file."""
        clean = {k: v for k, v in params.items() if v is not None}
        partial = out.with_name(out.name + ".part")
        try:
            with self._http.stream(
                "GET", f"/api/v1/lake/tables/{table}/export", params=clean, timeout=None
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    raise ClientError(_error_text(response))
                with open(partial, "wb") as f:
                    for chunk in response.iter_bytes():
                        f.write(chunk)
                rows = int(response.headers.get("X-Tracelake-Rows", "0"))
        except httpx.TransportError as e:
            partial.unlink(missing_ok=True)
            raise ClientError(_unreachable(self.url, e)) from e
        partial.replace(out)
        return rows

    def compact(self) -> dict[str, Any]:
        """Flush the memtable and compact every partition (an ``admin`` token's work)."""
        data: dict[str, Any] = self._request("POST", "/api/v1/lake/compact", timeout=600).json()
        return data

    def send_logs(self, body: bytes, *, gzip: bool = True, retries: int = 30) -> dict[str, Any]:
        """POST an NDJSON body; waits out 503s as the server's Retry-After asks."""
        headers = {"Content-Type": "application/x-ndjson"}
        if gzip:
            body = gzip_module.compress(body, 1)
            headers["Content-Encoding"] = "gzip"
        for _ in range(retries):
            response = self._request("POST", "/api/v1/logs", content=body, headers=headers)
            if response.status_code != 503:
                data: dict[str, Any] = response.json()
                return data
            time.sleep(float(response.headers.get("Retry-After", "1")))
        raise ClientError(f"server stayed overloaded for {retries} tries: try again later")

    def tail(self, query: str) -> Iterator[dict[str, Any]]:
        """Yield matching new log rows as they arrive, until interrupted."""
        connected = False
        try:
            with self._http.stream(
                "GET", "/api/v1/tail", params={"q": query}, timeout=None
            ) as response:
                connected = True
                if response.status_code >= 400:
                    response.read()
                    raise ClientError(_error_text(response))
                for line in response.iter_lines():
                    if line.startswith("data: "):
                        yield orjson.loads(line[6:])
        except httpx.TransportError as e:
            if not connected:
                raise ClientError(_unreachable(self.url, e)) from e
            raise ClientError(f"lost the tail stream from {self.url}: {e}") from e

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> httpx.Response:
        return self._request("GET", path, params=params)


def with_scheme(url: str) -> str:
    """``127.0.0.1:7700`` as ``http://127.0.0.1:7700``: a bare host and port is what
    users type, and what the server prints as its address."""
    return url if "://" in url else f"http://{url}"


def _unreachable(url: str, error: Exception) -> str:
    return f"cannot reach tracelake at {url} ({error}): is `tracelake serve` running? pass --url"


def _error_text(response: httpx.Response) -> str:
    try:
        message = response.json().get("error", response.text)
    except ValueError:
        message = response.text.strip()[:300]
    return f"server answered {response.status_code}: {message}"
