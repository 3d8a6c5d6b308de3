"""What every session of an ingress-proxy process shares, whatever its protocol."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from proctor.decisions import DecisionVerifier
from proctor.gateway import GatewayConfig
from proctor.maskrules import Prefilter
from proctor.settings import Settings
from proctor_ingress.limits import ConnectionLimits
from proctor_ingress.trust import DecisionCheck
from proctor_ingress.verdicts import Verdicts


@dataclass
class Gateway:
    """What every session shares."""

    settings: Settings
    config: GatewayConfig
    nc: NATS
    js: JetStreamContext
    verdicts: Verdicts
    ssl: object | None = None  # ssl.SSLContext when TLS is configured
    # Shared by every session: lets every text value through once the masker says it looks
    # at all text (a NER model for names), or when PROCTOR_MASK_ALL_TEXT says so.
    prefilter: Prefilter = field(default_factory=Prefilter)
    # Live Postgres sessions by the BackendKeyData their clients were given, for
    # CancelRequests.
    cancel_keys: dict[tuple[int, int], Any] = field(default_factory=dict)
    sessions: int = 0
    limits: ConnectionLimits = field(init=False)
    # Which approval decisions to believe: only those the approval service signed.
    trust: DecisionCheck = field(default_factory=lambda: DecisionCheck(DecisionVerifier(())))

    def __post_init__(self) -> None:
        self.limits = ConnectionLimits(
            self.settings.pg_max_connections, self.settings.pg_max_connections_per_identity
        )

    async def cancel(self, pid: int, key: int) -> bool:
        """Cancel what the Postgres session with this BackendKeyData runs, if it is held
        here."""
        session = self.cancel_keys.get((pid, key))
        if session is None:
            return False
        await session.cancel()
        return True
