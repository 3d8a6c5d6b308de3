"""The gateway's connection to one Kubernetes API server, with the credentials only the gateway
holds (a bearer token, or a client certificate), from the resource's entry in gateway.yaml."""

from __future__ import annotations

import ssl

import aiohttp

from proctor.gateway import KubernetesResource

CONNECT_TIMEOUT = 10.0


class Cluster:
    def __init__(self, resource: KubernetesResource) -> None:
        self.resource = resource
        self.base = resource.url
        context: ssl.SSLContext | bool = False
        if self.base.startswith("https://"):
            if resource.insecure_skip_tls_verify:
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            else:
                cafile = resource.certificate_authority
                context = ssl.create_default_context(cafile=str(cafile) if cafile else None)
            if resource.client_certificate is not None:
                context.load_cert_chain(
                    str(resource.client_certificate),
                    str(resource.client_key) if resource.client_key else None,
                )
        self.ssl = context
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=self.ssl, limit=256),
                timeout=aiohttp.ClientTimeout(
                    total=None, connect=CONNECT_TIMEOUT, sock_connect=CONNECT_TIMEOUT
                ),
                auto_decompress=True,
            )
        return self._session

    def headers(self) -> dict[str, str]:
        """The cluster's credentials, as the API server wants them."""
        token = self.resource.bearer_token()
        return {"Authorization": f"Bearer {token}"} if token else {}

    def url(self, path_and_query: str) -> str:
        return self.base + path_and_query

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
