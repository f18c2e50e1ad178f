#!/usr/bin/env python3
"""Times the peers DSI's pipeline is compared with, on the same session: itch-book (C++23 book builder: decode + books
+ trades + BBO) and itchcpp (C++ ITCH parser: decode only). The capture's MoldUDP64 messages are extracted once with
tshark into a NASDAQ BinaryFILE (not timed); each peer then runs `--runs` times over it and the median is printed.

Usage: peer_speed.py CAPTURE UDP_PORT [--runs N]     (needs itch-book and itchcpp: Benchmarks/peers/setup.sh)
"""
import json
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools", "oracles"))
from itchbook_ticks import SESSION_DATE, mold_messages, write_binaryfile  # noqa: E402

import itch_book  # noqa: E402
from itch.parser import MessageParser  # noqa: E402  (the C++ backend when itchcpp is installed)
import itch  # noqa: E402


def time_itch_book(path):
    start = time.perf_counter()
    feed = itch_book.open(path, date=SESSION_DATE, price_type="fixed")
    rows = 0
    for batch in feed.batches(tables=("trades", "bbo")):
        rows += len(batch.trades["seq"]) + len(batch.bbo["seq"])
    return time.perf_counter() - start, rows


def time_itchcpp(path):
    start = time.perf_counter()
    with open(path, "rb") as f:
        count = sum(1 for _ in MessageParser().parse_file(f))
    return time.perf_counter() - start, count


def main():
    capture, port = sys.argv[1], sys.argv[2]
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 5
    messages = list(mold_messages(capture, port))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "session.itch50")
        write_binaryfile(messages, path)
        result = {"messages": len(messages), "itchcppBackend": bool(itch.USING_CPP_BACKEND)}
        for name, fn in (("itchBook", time_itch_book), ("itchcpp", time_itchcpp)):
            times = [fn(path)[0] for _ in range(runs)]
            median = statistics.median(times)
            result[name] = {"msgsPerSec": round(len(messages) / median), "nsPerMsg": round(median * 1e9 / len(messages), 1)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
