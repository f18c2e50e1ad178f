#!/usr/bin/env python3
"""Reads DSI ticks from a NATS cluster (nats-py): what a consumer in any language with a NATS client does.

    dsi_nats_consumer.py SERVERS [--subject dsi.>] [--stream NAME] [--binary] [--count N] [--idle S]

SERVERS is comma-separated nats://HOST:PORT. Without --stream: a core NATS subscription by wildcard (live ticks from
now on). With --stream: the JetStream stream from its first message, through an ordered consumer (which the client
re-creates after a node is lost). Prints one line per tick, "SUBJECT<TAB>JSON" (binary payloads decoded with the
Python subscriber's reader of the 112-byte tick); stops after N ticks (--count) or S seconds without one (--idle);
a summary on stderr.
"""
import argparse
import asyncio
import json
import os
import sys
import time

import nats
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import DeliverPolicy

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from dsi_client import binary_tick  # noqa: E402  (the Python subscriber's decoder of the binary tick)


def log(*parts):
    print(*parts, file=sys.stderr, flush=True)


async def subscribe(nc, args, handler):
    """Delivers each message to `handler` (a callback: no per-message wait, which costs nats-py ~100 µs)."""
    if not args.stream:
        sub = await nc.subscribe(args.subject, cb=handler, pending_msgs_limit=2_000_000, pending_bytes_limit=1 << 30)
        await nc.flush()
        return sub
    js = nc.jetstream()
    # Creating a consumer can time out while the cluster moves a leader: try again.
    for attempt in range(20):
        try:
            return await js.subscribe(args.subject, stream=args.stream, cb=handler, ordered_consumer=True,
                                      deliver_policy=DeliverPolicy.ALL, idle_heartbeat=2.0,
                                      pending_msgs_limit=2_000_000)
        except (NatsTimeout, asyncio.TimeoutError, nats.errors.Error) as e:
            log(f"subscribe attempt {attempt + 1}: {e!r}")
            await asyncio.sleep(0.5)
    raise SystemExit("could not subscribe to the stream")


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("servers")
    ap.add_argument("--subject", default="dsi.>")
    ap.add_argument("--stream")
    ap.add_argument("--binary", action="store_true")
    ap.add_argument("--count", type=int, default=0)
    ap.add_argument("--idle", type=float, default=10.0)
    ap.add_argument("--ready", help="a file to create once subscribed")
    args = ap.parse_args()

    async def on_error(e):
        log(f"nats error: {e!r}")

    nc = await nats.connect(servers=args.servers.split(","), max_reconnect_attempts=-1, reconnect_time_wait=0.25,
                            connect_timeout=2, error_cb=on_error)
    received = []  # (subject, payload), decoded at the end: the rate measured is the delivery's
    times = []
    done = asyncio.Event()

    async def handler(msg):
        received.append((msg.subject, msg.data))
        times.append(time.monotonic())
        if args.count and len(received) >= args.count:
            done.set()

    await subscribe(nc, args, handler)
    if args.ready:
        open(args.ready, "w").close()
    # Ends at the count, or after --idle seconds without a tick.
    seen = -1
    while not done.is_set() and len(received) != seen:
        seen = len(received)
        try:
            await asyncio.wait_for(done.wait(), timeout=args.idle)
        except asyncio.TimeoutError:
            pass
    await nc.close()
    out = sys.stdout
    for subject, data in received:
        tick = binary_tick(data) if args.binary else json.loads(data)
        out.write(f"{subject}\t{json.dumps(tick, separators=(',', ':'))}\n")
    out.flush()
    count = len(received)
    # The rate is over the ticks' own span: from the first received to the last.
    seconds = times[-1] - times[0] if count > 1 else 0.0
    log(f"received {count} ticks in {seconds:.2f} s ({count / max(seconds, 1e-9):.0f}/s)")


if __name__ == "__main__":
    asyncio.run(main())
