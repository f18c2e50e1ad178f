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
import sys

os.environ.setdefault("ITCH_NO_CPP", "1")  # keep itchfeed's pure-Python backend
from itch.messages import messages as itch_messages  # noqa: E402
from itch.parser import MessageParser  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import moldcap  # noqa: E402

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
    parser = MessageParser()
    for event in moldcap.events(capture, port):
        if event[0] == "gap":
            print(json.dumps(list(event)))
            continue
        _, session, seq, raw = event
        message = parser.get_message_type(raw)
        t = raw[0:1]
        row = [session, seq, t.decode(), message.stock_locate, message.tracking_number, message.timestamp]
        row += [value(getattr(message, name)) for name in ORDER[t]]
        print(json.dumps(row))


if __name__ == "__main__":
    main()
