#!/usr/bin/env python3
"""A DSI subscriber in Python's standard library (ssl, struct): protocol v2 of docs/publish-protocol.md, written from
that document alone. It is DSI's second implementation of the protocol: the tests hold the Swift client against it.

    python3 dsi_client.py HOST:PORT [--symbols A,B] [--kinds trade,quote] [--from-seq K] [--encoding binary|json|protobuf]
                          [--ca F | --insecure] [--cert F --key F] [--count N] [--name NAME]

prints one JSON object per tick (the keys of `dsi ticks --format jsonl`; images carry "image": true) and a summary
on stderr. The protobuf encoding needs the `protobuf` package and `protoc` (it compiles docs/dsi.proto on first use).
"""
import argparse
import json
import os
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time

VERSION = 2
ENCODINGS = {"binary": 1, "json": 2, "protobuf": 3}
KINDS = {"trade": 1, "quote": 2, "status": 3, "tradeBreak": 4}
KIND_NAMES = {v: k for k, v in KINDS.items()}
CODES = {1: "malformedFrame", 2: "unsupportedVersion", 3: "unknownEncoding", 4: "notLoggedIn", 5: "alreadyLoggedIn",
         6: "tooManySymbols", 7: "rateLimited", 8: "frameTooLarge", 9: "resumeUnavailable", 10: "resumeNotFirst",
         11: "notEntitled", 12: "unknownFrameType", 13: "loginTimeout", 14: "slowConsumer", 15: "shuttingDown",
         16: "heartbeatTimeout", 17: "emptySubscription", 18: "certificateRevoked"}
STATUS_NAMES = {"S": "systemEvent", "H": "tradingAction", "Y": "regSHO", "h": "operationalHalt", "J": "luldCollar",
                "V": "mwcbLevels", "W": "mwcbBreach", "K": "ipoQuotingPeriod", "G": "gap", "j": "join"}
FLAG_IMAGE, FLAG_CONFLATED = 1, 2
TICK = struct.Struct("<BBBBHBBIIQQQQQIIQQQQQQ")  # 112 bytes, docs/publish-protocol.md "The binary tick"


class Refused(Exception):
    """The publisher said no: a goodbye at login, or an error frame for a request."""


def frame(kind, payload=b""):
    return struct.pack(">HB", 1 + len(payload), ord(kind)) + payload


def symbol_bytes(name):
    raw = name.encode("ascii")[:8]
    return raw + b" " * (8 - len(raw))


def kinds_mask(names):
    mask = 0
    for n in names:
        mask |= 1 << (KINDS[n] - 1)
    return mask


def binary_tick(b):
    (kind, side, status_type, code, locate, flags, _r, reason, price, stock, seq, stream_seq, timestamp, receive_time,
     bid, ask, shares, match, first, second, topic_seq, feed) = TICK.unpack(b)
    if kind not in KIND_NAMES:
        raise ValueError("a tick of unknown kind %d" % kind)
    stock_text = stock.to_bytes(8, "little").rstrip(b" \0").decode("ascii", "replace")
    t = {"kind": KIND_NAMES[kind]}
    if feed:
        t["feed"] = feed.to_bytes(8, "little").rstrip(b" \0").decode("ascii", "replace")
    t.update({"seq": seq, "streamSeq": stream_seq, "topicSeq": topic_seq})
    if flags & FLAG_IMAGE:
        t["image"] = True
    if flags & FLAG_CONFLATED:
        t["conflated"] = True
    t.update({"stockLocate": locate, "stock": stock_text, "timestamp": timestamp})
    name = KIND_NAMES[kind]
    if name == "trade":
        t.update({"price": price, "shares": shares, "matchNumber": match})
        if side:
            t["side"] = chr(side)
    elif name == "tradeBreak":
        t["matchNumber"] = match
    elif name == "quote":
        t.update({"bidPrice": bid, "bidSize": first, "askPrice": ask, "askSize": second})
    elif chr(status_type) == "G":
        t.update({"status": "gap", "from": first, "to": second})
    elif chr(status_type) == "j":
        t.update({"status": "join", "from": first})
    else:
        t.update({"status": STATUS_NAMES.get(chr(status_type), "other"), "code": chr(code)})
        if reason:
            t["reason"] = reason.to_bytes(4, "little").rstrip(b" \0").decode("ascii", "replace")
    t["receiveTime"] = receive_time
    return t


_pb = None


def protobuf_module():
    """dsi_pb2, compiled from docs/dsi.proto with protoc on first use."""
    global _pb
    if _pb is None:
        proto_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "docs")
        out = tempfile.mkdtemp(prefix="dsi-pb2-")
        subprocess.run(["protoc", "-I" + proto_dir, "--python_out=" + out, os.path.join(proto_dir, "dsi.proto")],
                       check=True)
        sys.path.insert(0, out)
        import dsi_pb2
        _pb = dsi_pb2
    return _pb


def protobuf_tick(b):
    m = protobuf_module().Tick()
    m.ParseFromString(b)
    name = KIND_NAMES[m.kind]
    t = {"kind": name}
    if m.feed:
        t["feed"] = m.feed
    t.update({"seq": m.seq, "streamSeq": m.stream_seq, "topicSeq": m.topic_seq})
    if m.image:
        t["image"] = True
    if m.conflated:
        t["conflated"] = True
    t.update({"stockLocate": m.stock_locate, "stock": m.stock, "timestamp": m.timestamp})
    if name == "trade":
        t.update({"price": m.price, "shares": m.shares, "matchNumber": m.match_number})
        if m.side:
            t["side"] = chr(m.side)
    elif name == "tradeBreak":
        t["matchNumber"] = m.match_number
    elif name == "quote":
        t.update({"bidPrice": m.bid_price, "bidSize": m.bid_size, "askPrice": m.ask_price, "askSize": m.ask_size})
    elif chr(m.status_type) == "G":
        t.update({"status": "gap", "from": m.gap_first, "to": m.gap_last})
    elif chr(m.status_type) == "j":
        t.update({"status": "join", "from": m.gap_first})
    else:
        t.update({"status": STATUS_NAMES.get(chr(m.status_type), "other"), "code": chr(m.status_code)})
        if m.HasField("reason"):
            t["reason"] = m.reason
    t["receiveTime"] = m.receive_time
    return t


class Client:
    """One connection: TLS 1.3, login, hello; then subscribe or resume, and read frames."""

    def __init__(self, host, port, encoding="binary", name="dsi-python", ca=None, insecure=False, cert=None, key=None,
                 timeout=10.0):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        if insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        elif ca:
            ctx.load_verify_locations(ca)
        else:
            ctx.load_default_certs()
        if cert:
            ctx.load_cert_chain(cert, key)
        raw = socket.create_connection((host, port), timeout=timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = ctx.wrap_socket(raw, server_hostname=host)
        self.tls_version = self.sock.version()
        self.encoding = encoding
        self.buffer = b""
        self.last_write = time.monotonic()
        self.next_request = 1
        name_bytes = name.encode("utf-8")[:64]
        self.send(frame("L", struct.pack(">HBBB", VERSION, ENCODINGS[encoding], 0, len(name_bytes)) + name_bytes))
        kind, body = self.read_frame()
        if kind == "G":
            code, = struct.unpack(">H", body[:2])
            raise Refused("%s: %s" % (CODES.get(code, code), body[2:].decode("utf-8", "replace")))
        if kind != "H":
            raise ValueError("expected a hello, got %r" % kind)
        (version, enc, _r, tick_size, heartbeat, next_seq, first_retained, day, max_symbols) = struct.unpack(
            ">HBBHHQQII", body[:34])
        if version != VERSION or tick_size != TICK.size:
            raise ValueError("publisher speaks version %d with %d-byte ticks" % (version, tick_size))
        self.hello = {"version": version, "encoding": enc, "heartbeatMillis": heartbeat, "nextStreamSeq": next_seq,
                      "firstRetained": first_retained, "day": day, "maxSymbols": max_symbols}

    def send(self, data):
        self.sock.sendall(data)
        self.last_write = time.monotonic()

    def request(self, kind, kinds, symbols, after=None):
        rid = self.next_request
        self.next_request += 1
        head = struct.pack(">I", rid) + (struct.pack(">Q", after) if after is not None else b"")
        if symbols is None:
            body = head + struct.pack(">BBH", kinds_mask(kinds), 1, 0)
        else:
            body = head + struct.pack(">BBH", kinds_mask(kinds), 0, len(symbols)) + b"".join(map(symbol_bytes, symbols))
        self.send(frame(kind, body))
        return rid

    def subscribe(self, kinds=tuple(KINDS), symbols=None):
        return self.request("S", kinds, symbols)

    def unsubscribe(self, kinds=tuple(KINDS), symbols=None):
        return self.request("U", kinds, symbols)

    def resume(self, after, kinds=tuple(KINDS), symbols=None):
        return self.request("R", kinds, symbols, after=after)

    def read_frame(self):
        """The next frame as (type letter, payload); sends a heartbeat when one is due while waiting."""
        while True:
            if len(self.buffer) >= 3:
                length, = struct.unpack(">H", self.buffer[:2])
                if length == 0:
                    raise ValueError("a frame of length 0")
                if len(self.buffer) >= 2 + length:
                    kind, body = chr(self.buffer[2]), self.buffer[3:2 + length]
                    self.buffer = self.buffer[2 + length:]
                    return kind, body
            if time.monotonic() - self.last_write > 1.0:
                self.send(frame("P"))
            self.sock.settimeout(0.5)
            try:
                data = self.sock.recv(1 << 16)
            except socket.timeout:
                continue
            if not data:
                raise EOFError("the publisher closed the connection")
            self.buffer += data

    def decode_tick(self, body):
        if self.encoding == "binary":
            if len(body) != TICK.size:
                raise ValueError("a tick of %d bytes" % len(body))
            return binary_tick(body)
        if self.encoding == "json":
            return json.loads(body.decode("utf-8"))
        return protobuf_tick(body)

    def events(self):
        """Yields ("tick", dict), ("subscribed", dict), ("error", dict), ("heartbeat", dict); ends at the end of
        the stream; raises Refused on a goodbye."""
        while True:
            kind, body = self.read_frame()
            if kind == "T":
                yield "tick", self.decode_tick(body)
            elif kind == "A":
                rid, first, images, flags = struct.unpack(">IQIB", body[:17])
                yield "subscribed", {"request": rid, "firstStreamSeq": first, "images": images, "flags": flags}
            elif kind == "X":
                code, rid = struct.unpack(">HI", body[:6])
                yield "error", {"code": CODES.get(code, code), "request": rid,
                                "reason": body[6:].decode("utf-8", "replace")}
            elif kind == "B":
                last, now = struct.unpack(">QQ", body[:16])
                yield "heartbeat", {"lastStreamSeq": last, "time": now}
            elif kind == "G":
                code, = struct.unpack(">H", body[:2])
                raise Refused("%s: %s" % (CODES.get(code, code), body[2:].decode("utf-8", "replace")))
            elif kind == "E":
                return
            # other types: from a newer publisher, skipped

    def close(self):
        try:
            self.sock.unwrap()
        except (ssl.SSLError, OSError):
            pass
        self.sock.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("endpoint")
    p.add_argument("--symbols")
    p.add_argument("--kinds", default=",".join(KINDS))
    p.add_argument("--from-seq", type=int)
    p.add_argument("--encoding", default="binary", choices=sorted(ENCODINGS))
    p.add_argument("--ca")
    p.add_argument("--insecure", action="store_true")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--count", type=int)
    p.add_argument("--name", default="dsi-python")
    p.add_argument("--idle-timeout", type=float, default=0)
    p.add_argument("--stall", type=float, default=0, help="after subscribing, read nothing for this many seconds")
    a = p.parse_args()
    host, port = a.endpoint.rsplit(":", 1)
    kinds = [k for k in a.kinds.split(",") if k]
    symbols = [s for s in a.symbols.split(",") if s] if a.symbols else None
    try:
        c = Client(host, int(port), a.encoding, a.name, a.ca, a.insecure, a.cert, a.key)
    except Refused as e:
        print("dsi_client: refused: %s" % e, file=sys.stderr)
        return 2
    if a.from_seq:
        c.resume(a.from_seq - 1, kinds, symbols)
    else:
        c.subscribe(kinds, symbols)
    if a.stall:
        time.sleep(a.stall)  # a consumer that stops reading: the publisher's slow-consumer policy applies
    ticks = images = 0
    last_data = time.monotonic()
    status = 0
    try:
        for kind, body in c.events():
            if kind == "tick":
                print(json.dumps(body, separators=(",", ":")), flush=False)
                ticks += 1
                images += 1 if body.get("image") else 0
                last_data = time.monotonic()
                if a.count and ticks >= a.count:
                    break
            elif kind == "error":
                print("dsi_client: request refused: %s: %s" % (body["code"], body["reason"]), file=sys.stderr)
                status = 2
                break
            elif a.idle_timeout and time.monotonic() - last_data > a.idle_timeout:
                break
    except Refused as e:
        print("dsi_client: dropped: %s" % e, file=sys.stderr)
        status = 2
    sys.stdout.flush()
    print("dsi_client: %d ticks (%d images) over %s" % (ticks, images, c.tls_version), file=sys.stderr)
    c.close()
    return status


if __name__ == "__main__":
    sys.exit(main())
