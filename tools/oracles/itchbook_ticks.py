#!/usr/bin/env python3
"""Ticks of a capture by tools nobody on DSI wrote: tshark frames MoldUDP64, itch-book keeps the books.

Usage: itchbook_ticks.py CAPTURE UDP_PORT [--extra]
       itchbook_ticks.py --self-check      (replays a hand-made feed and checks the rules below still hold)

Needs the PyPI package `itch-book` (checked with 0.2.1, C++23 core by groovg, MIT; `pip install itch-book==0.2.1`)
and `tshark`.

What it does
  1. tshark extracts the MoldUDP64 message blocks exactly as itchfeed_decode.py does: each sequence number kept once
     (first arrival wins, as with A/B lines), in sequence order; a gap is reported on stderr and skipped.
  2. The messages go into a temporary NASDAQ BinaryFILE (u16 big-endian length + message, repeated). A 0-length
     MoldUDP64 block is left out (itch-book reads a 0 length as "end of session").
  3. itch_book.open(tmp, date=..., price_type="fixed").batches(tables=("trades", "bbo", "symbols")): the `trades` and
     `bbo` rows (numpy column dicts per batch) are merged by itch-book's `seq` and printed as JSON lines.

Output, one JSON object per line, in message order (within one message the trade before the quote):
  trade:      {"kind":"trade", "stockLocate", "stock", "timestamp", "price", "shares", "matchNumber"}
  tradeBreak: {"kind":"tradeBreak", "stockLocate", "stock", "timestamp", "matchNumber"}
  quote:      {"kind":"quote", "stockLocate", "stock", "timestamp", "bidPrice", "bidSize", "askPrice", "askSize"}
  Every field asked for is available from itch-book; none is left out.
  - timestamp: the ITCH timestamp, ns since midnight. itch-book gives `ts_event` = New York midnight of the date
    passed (as UTC ns) + the ITCH timestamp; the same midnight is subtracted here, so it is exact whatever the date.
  - price, bidPrice, askPrice: raw ITCH Price(4) integers (1/10000 dollar). price_type="fixed" hands out itch-book's
    int64 mantissa, no float involved. An empty side is price 0, size 0.
  - shares / sizes: ints (a Q's shares are 8 bytes on the wire; a quote size is the total shares at the best price).
  - stock: from the Stock Directory (R) rows itch-book reports (`symbols` table), trailing spaces removed; "" for a
    locate that had no R message.
  - --extra adds: "seq" (MoldUDP64 sequence number of the message; itch-book's own `seq` is the 1-based ordinal of the
    messages it decoded, mapped back here), "source" (itch-book's trade `kind`: E/C/P/Q/B), "side" (resting side B/S
    for E/C; "N" for P, Q and B: 0.2.1 does not pass on the P message's side), "bidCount"/"askCount" for quotes.

What itch-book counts as a trade (its README "Trades and messages", include/itch/book_manager.hpp and python/src/
module.cpp of github.com/groovg/itch-book, and checked by --self-check):
  - E Order Executed: a trade at the RESTING order's price (the book level's price), shares = the message's executed
    shares, not clamped to what rests (the book itself clamps). Only when the reference is live; an E on an unknown
    reference prints nothing (and changes nothing).
  - C Order Executed With Price: a trade at the MESSAGE's execution price, only when Printable = 'Y', and only when the
    reference is live. A non-printable C reduces the book like any execution (and may emit a quote) but prints no trade.
  - P Trade (non-cross): always a trade (message price, shares, match number); the book is not touched.
  - Q Cross Trade: always a trade, every cross type (O, C, H, I), even with 0 shares.
  - B Broken Trade: a row carrying only locate, timestamp and match number: printed here as "tradeBreak".
  Nothing else is a trade (no trade from A/F/X/D/U, I, or a non-printable C).

When itch-book emits a BBO row ("quote" here): BookManager::check_top, per stock locate.
  - After every book message that the book APPLIED (A/F add, E/C execute, X cancel, D delete, U replace) it takes the
    stock's new top, (has_bid, best bid price, total shares at it, has_ask, best ask price, total shares at it),
    compares it with the last top it reported for THAT locate, and emits one row only if it differs. So at most one
    row per message, only when the best price or the aggregate size at the best price changed on either side; a change
    below the top emits nothing; the order count at the top (bid_ct/ask_ct) is not compared (no single applied message
    can change the count at the best price without changing its size, so this never shows). The remembered top of a
    locate starts as both sides empty. A U is applied as one step (old order out, new one in) and checked once.
  - Nothing is emitted for a message that was not applied: an E/C/X/D/U whose reference is unknown; an A/F with 0
    shares, price 0 or reference 0 (rejected). A U with 0 shares or price 0 deletes the old order (may emit).
    An A/F onto a reference that is still live evicts that order first (even from another stock) and then adds; only
    the added stock's top is checked. A U whose new reference is live likewise replaces it.
  - Books are not gated on trading state (H halts), and R is not needed for a book: an add on a locate without an R
    builds one all the same (the `stock` is then "").
  - A frame is decoded only if its type is one of the 23 ITCH 5.0 types and its length is EXACTLY the spec length
    (SPEC_LENGTH below); others (shorter, longer or unknown) are skipped, counted as malformed/unknown, get no `seq`.
    L, V, W, K, N, O are framed and counted but not decoded (they take a `seq`).
"""
import datetime as dt
import json
import os
import struct
import subprocess
import sys
import tempfile
from zoneinfo import ZoneInfo

import itch_book

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import moldcap  # noqa: E402

SESSION_DATE = dt.date(2020, 1, 2)  # any date: timestamps are converted back to ns since midnight

# The ITCH 5.0 message lengths (../shared/reference/itch50.md). itch-book decodes a frame only when its type is one of
# these and its length is exactly this; any other frame is skipped without taking a `seq` ordinal.
SPEC_LENGTH = {"S": 12, "R": 39, "H": 25, "Y": 20, "L": 26, "V": 35, "W": 12, "K": 28, "J": 35, "h": 21, "A": 36,
               "F": 40, "E": 31, "C": 36, "X": 23, "D": 19, "U": 35, "P": 44, "Q": 40, "B": 19, "I": 50, "N": 20,
               "O": 48}


def midnight_ns(day: dt.date) -> int:
    """New York midnight of `day` in UTC ns, computed as itch-book does (its `ts_event` = this + ITCH timestamp)."""
    midnight = dt.datetime(day.year, day.month, day.day, tzinfo=ZoneInfo("America/New_York"))
    return int(midnight.timestamp()) * 1_000_000_000


def mold_messages(capture: str, port: str):
    """[(seq, bytes)] in sequence order, each sequence number once (first arrival wins), as moldcap frames them."""
    messages = []
    for event in moldcap.events(capture, port):
        if event[0] == "gap":
            print(f"itchbook_ticks: gap {event[1]}..{event[2]}", file=sys.stderr)
        else:
            messages.append((event[2], event[3]))
    return messages


def write_binaryfile(messages, path):
    """Writes the messages as a NASDAQ BinaryFILE. Returns the MoldUDP64 sequence of each message itch-book will
    decode (and so number 1, 2, ... in its `seq` column), in order."""
    decoded = []
    with open(path, "wb") as f:
        for seq, raw in messages:
            if not raw:
                continue  # a 0 length would end itch-book's session
            f.write(len(raw).to_bytes(2, "big"))
            f.write(raw)
            if SPEC_LENGTH.get(chr(raw[0])) == len(raw):
                decoded.append(seq)
    return decoded


def ticks(path: str, extra: bool):
    """Yields (itch-book seq ordinal, row) per itch-book trade / break / BBO row, in message order; then the stats."""
    midnight = midnight_ns(SESSION_DATE)
    symbols: dict[int, str] = {}
    feed = itch_book.open(path, date=SESSION_DATE, price_type="fixed")
    for batch in feed.batches(tables=("trades", "bbo", "symbols")):
        for locate, symbol in zip(batch.symbols["locate"], batch.symbols["symbol"]):
            symbols[int(locate)] = str(symbol).rstrip(" ")
        rows = []
        t = batch.trades
        for i in range(len(t["seq"])):
            source = t["kind"][i].decode()
            locate = int(t["locate"][i])
            row = {"kind": "tradeBreak" if source == "B" else "trade", "stockLocate": locate,
                   "stock": symbols.get(locate, ""), "timestamp": int(t["ts_event"][i]) - midnight}
            if source != "B":
                row["price"] = int(t["price"][i])
                row["shares"] = int(t["size"][i])
            row["matchNumber"] = int(t["match_number"][i])
            if extra:
                row["source"] = source
                row["side"] = t["side"][i].decode()
            rows.append((int(t["seq"][i]), 0, i, row))
        b = batch.bbo
        for i in range(len(b["seq"])):
            locate = int(b["locate"][i])
            row = {"kind": "quote", "stockLocate": locate, "stock": symbols.get(locate, ""),
                   "timestamp": int(b["ts_event"][i]) - midnight,
                   "bidPrice": int(b["bid_px"][i]), "bidSize": int(b["bid_sz"][i]),
                   "askPrice": int(b["ask_px"][i]), "askSize": int(b["ask_sz"][i])}
            if extra:
                row["bidCount"] = int(b["bid_ct"][i])
                row["askCount"] = int(b["ask_ct"][i])
            rows.append((int(b["seq"][i]), 1, i, row))
        # message order; within one message the trade before the BBO row, as itch-book emits them. A batch carries
        # the R rows of its own messages, which come before any row of that stock, so `symbols` is complete here.
        rows.sort(key=lambda r: r[:3])
        for ordinal, _, _, row in rows:
            yield ordinal, row
    yield None, feed.stats


def run(messages, out, extra: bool):
    with tempfile.TemporaryDirectory(prefix="itchbook_") as tmp:
        path = os.path.join(tmp, "session.itch50")  # a name itch-book takes no date from: the date is passed
        decoded = write_binaryfile(messages, path)
        if not decoded:
            return
        for ordinal, row in ticks(path, extra):
            if ordinal is None:
                stats = row
                if extra and stats["messages"] != len(decoded):
                    print(f"itchbook_ticks: itch-book decoded {stats['messages']} messages, expected {len(decoded)}: "
                          "'seq' may be off", file=sys.stderr)
                continue
            if extra:
                row["seq"] = decoded[ordinal - 1] if 0 < ordinal <= len(decoded) else None
            out(row)


def self_check():
    """Replays a hand-made feed of edge cases through itch-book and checks the rules documented above."""
    clock = [34_200_000_000_000]

    def h(t, loc):
        clock[0] += 1000
        return t.encode() + struct.pack(">HH", loc, 0) + clock[0].to_bytes(6, "big")

    def R(loc, sym):
        return h("R", loc) + sym.ljust(8).encode() + b"QN" + struct.pack(">I", 100) + b"NCZ PNN1N" + bytes(4) + b"N"

    def A(loc, ref, side, sh, px):
        return h("A", loc) + struct.pack(">Q", ref) + side.encode() + struct.pack(">I", sh) + b"X       " + \
            struct.pack(">I", px)

    def E(loc, ref, sh, m): return h("E", loc) + struct.pack(">QIQ", ref, sh, m)
    def C(loc, ref, sh, m, pr, px): return h("C", loc) + struct.pack(">QIQ", ref, sh, m) + pr.encode() + struct.pack(">I", px)
    def X(loc, ref, sh): return h("X", loc) + struct.pack(">QI", ref, sh)
    def D(loc, ref): return h("D", loc) + struct.pack(">Q", ref)
    def U(loc, old, new, sh, px): return h("U", loc) + struct.pack(">QQII", old, new, sh, px)

    def P(loc, side, sh, px, m):
        return h("P", loc) + bytes(8) + side.encode() + struct.pack(">I", sh) + b"X       " + struct.pack(">IQ", px, m)

    def Q(loc, sh, px, m, ct): return h("Q", loc) + struct.pack(">Q", sh) + b"X       " + struct.pack(">IQ", px, m) + ct.encode()
    def B(loc, m): return h("B", loc) + struct.pack(">Q", m)

    feed = [R(1, "AAA"), R(2, "BBB"),                  # seq 1, 2
            A(1, 1, "B", 100, 100000),                 # 3  quote: first bid
            A(1, 2, "B", 100, 100000),                 # 4  quote: size at the top 200
            A(1, 3, "B", 100, 90000),                  # 5  below the top: nothing
            X(1, 3, 50),                               # 6  below the top: nothing
            A(1, 4, "S", 300, 110000),                 # 7  quote: first ask
            E(1, 999, 10, 1),                          # 8  unknown reference: nothing
            E(1, 1, 30, 2),                            # 9  trade at the resting price, then quote
            C(1, 1, 20, 3, "N", 100500),               # 10 non-printable: quote only
            C(1, 2, 10, 4, "Y", 100700),               # 11 printable: trade at the message price, quote
            E(1, 1, 500, 5),                           # 12 oversized: trade of 500 (not clamped), quote
            A(1, 5, "B", 0, 100000),                   # 13 0 shares: rejected, nothing
            A(1, 6, "B", 100, 0),                      # 14 price 0: rejected, nothing
            A(1, 4, "B", 50, 95000),                   # 15 live reference 4 (the ask): evicted, re-added as a bid
            U(1, 2, 7, 90, 100000),                    # 16 same price and size at the top: nothing
            U(1, 7, 8, 0, 100000),                     # 17 0 shares: old order removed, quote
            A(3, 11, "B", 100, 50000),                 # 18 locate without R: a book all the same, stock ""
            P(1, "B", 100, 100100, 6),                 # 19 trade, side N
            Q(1, 0, 100000, 7, "O"),                   # 20 cross of 0 shares: still a trade
            B(1, 6)]                                   # 21 break
    got = []
    run(list(enumerate(feed, 1)), got.append, extra=True)
    summary = [(r["seq"], r["kind"], r["stock"], r.get("price", r.get("bidPrice")), r.get("shares", r.get("bidSize")),
                r.get("askPrice"), r.get("askSize"), r.get("side")) for r in got]
    want = [(3, "quote", "AAA", 100000, 100, 0, 0, None), (4, "quote", "AAA", 100000, 200, 0, 0, None),
            (7, "quote", "AAA", 100000, 200, 110000, 300, None),
            (9, "trade", "AAA", 100000, 30, None, None, "B"), (9, "quote", "AAA", 100000, 170, 110000, 300, None),
            (10, "quote", "AAA", 100000, 150, 110000, 300, None),
            (11, "trade", "AAA", 100700, 10, None, None, "B"), (11, "quote", "AAA", 100000, 140, 110000, 300, None),
            (12, "trade", "AAA", 100000, 500, None, None, "B"), (12, "quote", "AAA", 100000, 90, 110000, 300, None),
            (15, "quote", "AAA", 100000, 90, 0, 0, None), (17, "quote", "AAA", 95000, 50, 0, 0, None),
            (18, "quote", "", 50000, 100, 0, 0, None),
            (19, "trade", "AAA", 100100, 100, None, None, "N"), (20, "trade", "AAA", 100000, 0, None, None, "N"),
            (21, "tradeBreak", "AAA", None, None, None, None, "N")]
    if summary != want:
        n = max(len(summary), len(want))
        for g, w in zip(summary + [None] * (n - len(summary)), want + [None] * (n - len(want))):
            print(("   " if g == w else "!! ") + f"got {g} want {w}", file=sys.stderr)
        sys.exit(1)
    print(f"itchbook_ticks: self-check passed (itch-book {itch_book.__version__}, {len(want)} rows)")


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    flags = {a for a in sys.argv[1:] if a.startswith("--")}
    if flags - {"--extra", "--self-check"}:
        sys.exit(f"unknown option {sorted(flags - {'--extra', '--self-check'})}")
    if "--self-check" in flags:
        self_check()
        return
    if len(args) != 2:
        sys.exit("usage: itchbook_ticks.py CAPTURE UDP_PORT [--extra] | itchbook_ticks.py --self-check")
    capture, port = args
    write = sys.stdout.write
    try:
        run(mold_messages(capture, port), lambda row: write(json.dumps(row) + "\n"), "--extra" in flags)
    except BrokenPipeError:
        sys.stderr.close()  # stdout's reader went away (| head): not an error


if __name__ == "__main__":
    main()
