"""`proctor events tail`: follow the event stream as JSON lines, as a SIEM consumer would."""

from __future__ import annotations

import asyncio
import json
import signal
import sys

from nats.js import api as js_api

from proctor import bus
from proctor.errors import BusError, UndecodableEvent
from proctor.events import codec
from proctor.settings import load_settings


async def tail(
    *,
    event_type: str | None,
    session: str | None,
    from_start: bool,
    since: int | None,
    count: int | None,
) -> int:
    settings = load_settings()
    subject = codec.subject_filter(event_type, session)
    nc = await bus.connect(settings, "events-tail")
    done = asyncio.Event()
    seen = 0
    try:
        js = nc.jetstream()
        if await bus.stream_info(js, settings) is None:
            raise BusError(f"stream {settings.stream_name} does not exist yet: is Proctor running?")
        if since is not None:
            policy, start = js_api.DeliverPolicy.BY_START_SEQUENCE, since
        else:
            policy, start = (
                (js_api.DeliverPolicy.ALL if from_start else js_api.DeliverPolicy.NEW),
                None,
            )
        config = js_api.ConsumerConfig(deliver_policy=policy, opt_start_seq=start)

        async def on_message(msg: object) -> None:
            nonlocal seen
            data = getattr(msg, "data", b"")
            meta = getattr(msg, "metadata", None)
            line: dict[str, object] = {
                "stream_seq": meta.sequence.stream if meta else None,
                "subject": getattr(msg, "subject", ""),
            }
            try:
                line |= codec.to_dict(codec.decode(data))
            except UndecodableEvent as exc:
                line |= {"type": "undecodable", "error": str(exc), "payload_hex": data.hex()}
            print(json.dumps(line, separators=(",", ":")), flush=True)
            seen += 1
            if count is not None and seen >= count:
                done.set()

        await js.subscribe(
            subject, stream=settings.stream_name, ordered_consumer=True, config=config,
            cb=on_message,
        )  # fmt: skip
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, done.set)
        await done.wait()
    except BrokenPipeError:
        sys.stderr.close()
    finally:
        await bus.close(nc)
    return 0
