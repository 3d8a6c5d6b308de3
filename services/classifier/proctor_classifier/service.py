"""The classifier's NATS adapter: request/reply on `proctor.rpc.classify` in the queue group
`classifier`, and the policy file watched for edits, each valid one announced on
`proctor.policy.changed`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from google.protobuf.message import DecodeError

from proctor import subjects
from proctor.classifier.v1 import classifier_pb2 as cpb
from proctor.policy import Policy, PolicyError, load_policy, parse_policy, policy_version
from proctor.rpc import make_broker, raw_body, start_broker, stop_broker
from proctor.settings import Settings
from proctor_classifier.core import classify, refusal

log = logging.getLogger("proctor.classifier")

CLASSIFY_SUBJECT = subjects.CLASSIFY
CLASSIFY_QUEUE = subjects.CLASSIFY_QUEUE
POLICY_CHANGED_SUBJECT = subjects.POLICY_CHANGED
POLICY_POLL_SECONDS = 1.0


class PolicySource:
    """The policy in force, and the file it came from (None: the built-in defaults)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.policy = load_policy(path) if path else Policy.builtin()
        self._rejected = ""

    def reload(self) -> Policy | None:
        """The new policy if the file now holds a different, valid one; else None.

        The file is read whole on every poll rather than trusting its mtime: a ConfigMap swaps a
        symlink, and two quick edits can share an mtime. An invalid edit is logged once and the
        policy in force stays.
        """
        if self.path is None:
            return None
        try:
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            if self._rejected != str(exc):
                self._rejected = str(exc)
                log.error("cannot read policy %s (%s); keeping policy %s",
                          self.path, exc, self.policy.version)  # fmt: skip
            return None
        version = policy_version(text)
        if version == self.policy.version:
            self._rejected = ""
            return None
        if version == self._rejected:
            return None
        try:
            policy = parse_policy(text, self.path.name)
        except PolicyError as exc:
            self._rejected = version
            log.error("rejected policy edit: %s; keeping policy %s", exc, self.policy.version)
            return None
        self.policy = policy
        self._rejected = ""
        return policy


class ClassifierService:
    """Answers classify requests; counts what it served so replicas can be told apart."""

    def __init__(self, settings: Settings, source: PolicySource) -> None:
        self.source = source
        self.served = 0
        self.failed = 0
        self.nats_url = settings.nats_url
        self.broker = make_broker(settings, "proctor-classifier")
        self.broker.subscriber(CLASSIFY_SUBJECT, queue=CLASSIFY_QUEUE, decoder=raw_body)(
            self.handle
        )

    async def handle(self, body: bytes) -> bytes:
        """Reply to one request; any failure becomes an error reply (never a crash, never
        silence, which would only make the proxy wait for its timeout)."""
        self.served += 1
        version = self.source.policy.version
        request = cpb.ClassifyRequest()
        try:
            request.ParseFromString(body)
        except (DecodeError, RuntimeError, ValueError) as exc:
            self.failed += 1
            log.warning("undecodable classify request (%d bytes): %s", len(body), exc)
            error = f"not a proctor.classifier.v1.ClassifyRequest: {exc}"
            return refusal(error, version).SerializeToString()
        try:
            response = classify(request, self.source.policy)
        except Exception as exc:
            # A bug must not take the classifier down; the proxy fails closed on the error.
            self.failed += 1
            log.exception("classifying %r failed", request.text[:200])
            response = refusal(f"the classifier failed on this command: {exc}", version)
        return response.SerializeToString()

    async def watch_policy(self, stop: asyncio.Event) -> None:
        """Poll the policy file; swap in each valid edit and announce it."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), POLICY_POLL_SECONDS)
            policy = self.source.reload()
            if policy is None:
                continue
            log.info("policy %s loaded from %s", policy.version, self.source.path)
            try:
                await self.broker.publish(
                    cpb.PolicyChanged(policy_version=policy.version).SerializeToString(),
                    POLICY_CHANGED_SUBJECT,
                )
            except Exception as exc:  # the new policy decides anyway; caches expire on version
                log.warning("could not announce policy %s: %s", policy.version, exc)

    async def run(self, stop: asyncio.Event) -> None:
        if not await start_broker(self.broker, stop, self.nats_url):
            return
        watcher = asyncio.create_task(self.watch_policy(stop))
        log.info("classifier ready on %s (queue %s), policy %s",
                 CLASSIFY_SUBJECT, CLASSIFY_QUEUE, self.source.policy.version)  # fmt: skip
        try:
            await stop.wait()
        finally:
            watcher.cancel()
            await stop_broker(self.broker)
            log.info("classifier stopped; served %d requests (%d failed)",
                     self.served, self.failed)  # fmt: skip
