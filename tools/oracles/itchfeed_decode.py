#!/usr/bin/env python3
"""Decodes a capture with tools nobody on DSI wrote: tshark frames MoldUDP64, itchfeed decodes each ITCH 5.0 message.

Prints one JSON array per message, in sequence order, each sequence number once (first arrival wins, as with A/B
lines): [session, seq, type, stockLocate, trackingNumber, timestamp, field1, field2, ...], fields in the spec's order,
text without trailing spaces, numbers (prices too) as raw integers. A sequence gap prints ["gap", first, last].

Usage: itchfeed_decode.py CAPTURE UDP_PORT
"""
import inspect
import json
import os
import re
import subprocess
import sys

os.environ.setdefault("ITCH_NO_CPP", "1")  # keep itchfeed's pure-Python backend
from itch.messages import messages as itch_messages  # noqa: E402
from itch.parser import MessageParser  # noqa: E402

HEADER = {"stock_locate", "tracking_number", "message_format"}


def field_order(cls):
    """The attributes itchfeed unpacks, in its struct's order (read off its __init__)."""
    names = re.findall(r"self\.(\w+)\s*,", inspect.getsource(cls.__init__))
    return [n for n in names if n not in HEADER]


ORDER = {t: field_order(cls) for t, cls in itch_messages.items()}


def value(v):
    if isinstance(v, bytes):
        return v.decode("ascii").rstrip(" ")
    return v


def main():
    capture, port = sys.argv[1], sys.argv[2]
    out = subprocess.run(
        ["tshark", "-r", capture, "-d", f"udp.port=={port},moldudp64", "-Y", "moldudp64",
         "-T", "fields", "-E", "separator=|", "-e", "moldudp64.session", "-e", "moldudp64.sequence",
         "-e", "moldudp64.count", "-e", "moldudp64.msgdata"],
        check=True, capture_output=True, text=True).stdout
    parser = MessageParser()
    expected = 1
    for row in out.splitlines():
        session, sequence, count, data = (row.split("|") + ["", "", "", ""])[:4]
        first = int(sequence)
        count = int(count)
        blocks = [bytes.fromhex(h) for h in data.split(",")] if data else []
        if count in (0, 0xFFFF):
            blocks = []
        if first > expected:
            print(json.dumps(["gap", expected, first - 1]))
            expected = first
        for i, raw in enumerate(blocks):
            seq = first + i
            if seq < expected:
                continue  # already seen on another line
            expected = seq + 1
            message = parser.get_message_type(raw)
            t = raw[0:1]
            row_out = [session.strip(), seq, t.decode(), message.stock_locate, message.tracking_number, message.timestamp]
            row_out += [value(getattr(message, name)) for name in ORDER[t]]
            print(json.dumps(row_out))
        if not blocks and first > expected:
            expected = first


if __name__ == "__main__":
    main()
