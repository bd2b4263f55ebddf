"""Talking to a running node as its local user: is it up, capture a document, what it holds.

Small helpers over the node's HTTP API (``GET /twin``, ``POST /capture``,
``GET /capture/{id}``, ``GET /twin/partners``) with the API token ``network up`` keeps for
each node. Errors say which node, which URL and what it answered.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from keiretsu.network.config import NetworkError

__all__ = ["NodeClient"]

_MEDIA = {
    ".xml": "application/xml",
    ".json": "application/json",
    ".jsonld": "application/ld+json",
}


class NodeClient:
    """A local user's connection to one node (``name`` at ``url`` with ``token``)."""

    def __init__(self, name: str, url: str, token: str, *, timeout: float = 10.0) -> None:
        self.name = name
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            trust_env=False,  # a node on loopback is never reached through a proxy
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> NodeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, path: str, **params: Any) -> Any:
        try:
            response = self._http.get(path, params=params or None)
        except httpx.HTTPError as exc:
            raise NetworkError(f"node {self.name} at {self.url}: {path}: {exc}") from exc
        if response.status_code != 200:
            raise NetworkError(
                f"node {self.name} at {self.url}: GET {path} answered "
                f"{response.status_code}: {response.text[:300]}"
            )
        return response.json()

    def ready(self) -> bool:
        """Whether the node answers its own API with this token."""
        try:
            return self._http.get("/twin", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def twin(self) -> dict[str, Any]:
        """``GET /twin``: the node's name, partners and what its store holds."""
        body: dict[str, Any] = self._get("/twin")
        return body

    def partners(self) -> list[dict[str, Any]]:
        """``GET /twin/partners``: per partner, documents delivered and still owed."""
        body: list[dict[str, Any]] = self._get("/twin/partners")
        return body

    def ingests(self, limit: int = 1000) -> list[dict[str, Any]]:
        """``GET /twin/ingests``: the ingest log, newest first."""
        body: list[dict[str, Any]] = self._get("/twin/ingests", limit=limit)
        return body

    def view(self, view: str, object_type: str | None = None) -> dict[str, Any]:
        """``GET /twin/views/{view}``: an analytics view over what the node holds."""
        params = {"object_type": object_type} if object_type else {}
        body: dict[str, Any] = self._get(f"/twin/views/{view}", **params)
        return body

    def capture(self, file: Path, *, timeout: float = 60.0) -> dict[str, Any]:
        """Capture an EPCIS document (``POST /capture``) and wait for its job to finish;
        returns the job. A refused document raises :class:`NetworkError` with the node's
        reason."""
        media = _MEDIA.get(file.suffix.lower(), "application/json")
        try:
            response = self._http.post(
                "/capture", content=file.read_bytes(), headers={"Content-Type": media}
            )
        except httpx.HTTPError as exc:
            raise NetworkError(f"node {self.name}: capturing {file}: {exc}") from exc
        if response.status_code != 202:
            raise NetworkError(
                f"node {self.name}: capturing {file}: answered {response.status_code}: "
                f"{response.text[:300]}"
            )
        location = response.headers["location"]
        deadline = time.monotonic() + timeout
        while True:
            job: dict[str, Any] = self._get(location)
            if not job.get("running"):
                break
            if time.monotonic() > deadline:
                raise NetworkError(
                    f"node {self.name}: capture of {file} still running after {timeout:.0f} s "
                    f"({self.url}{location})"
                )
            time.sleep(0.05)
        if not job.get("success"):
            errors = job.get("errors") or [{}]
            detail = errors[0].get("detail") or errors[0].get("title") or "refused"
            raise NetworkError(f"node {self.name}: {file} refused: {detail}")
        return job
