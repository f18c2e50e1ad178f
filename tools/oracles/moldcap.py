"""MoldUDP64 messages of a capture as tshark's dissector frames them (nobody on DSI wrote either), for the oracles.

`events(capture, port)` yields, in sequence order with each sequence number once (first arrival wins, as with A/B
lines): ("msg", session, seq, raw_bytes) for each message and ("gap", first, last) where no packet carried a range.
Like DSI's default join policy (`join: first`), the capture starts at its first packet's sequence: what came before
it is not a gap.
"""
import subprocess


def events(capture: str, port):
    out = subprocess.run(
        ["tshark", "-r", capture, "-d", f"udp.port=={port},moldudp64", "-Y", "moldudp64",
         "-T", "fields", "-E", "separator=|", "-e", "moldudp64.session", "-e", "moldudp64.sequence",
         "-e", "moldudp64.count", "-e", "moldudp64.msgdata"],
        check=True, capture_output=True, text=True).stdout
    expected = None
    for row in out.splitlines():
        session, sequence, count, data = (row.split("|") + ["", "", "", ""])[:4]
        first = int(sequence)
        count = int(count)
        # tshark prints a 0-length block's data as "<MISSING>"
        blocks = [b"" if h == "<MISSING>" else bytes.fromhex(h) for h in data.split(",")] if data else []
        if count in (0, 0xFFFF):
            blocks = []  # heartbeat or end of session: no messages, but the sequence number still shows a gap
        if expected is None:
            expected = first
        if first > expected:
            yield ("gap", expected, first - 1)
            expected = first
        for i, raw in enumerate(blocks):
            seq = first + i
            if seq < expected:
                continue  # already seen on another line
            expected = seq + 1
            yield ("msg", session.strip(), seq, raw)
