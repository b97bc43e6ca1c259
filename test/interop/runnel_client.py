#!/usr/bin/env python3
"""A Runnel protocol-v1 client in Python, standard library only, written from docs/protocol.md.

Usage: python3 runnel_client.py <ws-url> <stream-name> <records>
       python3 runnel_client.py <ws-url> <stream-name> read-closed <shard-id>

Lists streams and shards, puts <records> records (half unrouted, half routed by the shard map),
reads every shard back from TRIM_HORIZON with credit-based flow control, puts to a missing
stream, pings, and prints one JSON object on stdout. With read-closed, reads a shard a reshard
closed from TRIM_HORIZON until the server ends the subscription (§7.5) and prints its records.
Any protocol violation: stderr, exit 1.
"""

import base64
import hashlib
import json
import os
import socket
import struct
import sys
import time
from urllib.parse import urlparse

# ---------------------------------------------------------------------------------------------
# Protocol constants (docs/protocol.md §2, §3, §4, §7)

VERSION = 1
WELCOME, PING, PONG, ERROR = 0x01, 0x02, 0x03, 0x04
PUT, PUT_ACK = 0x10, 0x11
SUBSCRIBE, SUBSCRIBED, CREDIT, RECORDS, UNSUBSCRIBE, SUBSCRIPTION_END = 0x20, 0x21, 0x22, 0x23, 0x24, 0x25
UNSUBSCRIBED, SHARD_CLOSED = 0, 1  # SUBSCRIPTION_END reasons (§7.5)
LIST_STREAMS, STREAM_LIST, LIST_SHARDS, SHARD_MAP = 0x30, 0x31, 0x32, 0x33
FLAG_ROUTED = 0x0001
TRIM_HORIZON = 0
BATCH_MAGIC = b"RNB1"
BATCH_HEADER = 40
CREDIT_STEP = 4096  # grant credit in small steps so flow control is exercised
READ_TIMEOUT_S = 30.0


class ProtocolViolation(Exception):
    pass


class ServerError(Exception):
    """A non-fatal ERROR frame answering one request (§5.3)."""

    def __init__(self, name, message):
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


# ---------------------------------------------------------------------------------------------
# xxHash64 (seed 0), for checking the checksum of delivered batches (§4)

_M64 = (1 << 64) - 1
_P1, _P2, _P3 = 11400714785074694791, 14029467366897019727, 1609587929392839161
_P4, _P5 = 9650029242287828579, 2870177450012600261


def _rotl(x, r):
    return ((x << r) | (x >> (64 - r))) & _M64


def _round(acc, lane):
    acc = (acc + lane * _P2) & _M64
    return (_rotl(acc, 31) * _P1) & _M64


def _merge(acc, v):
    acc ^= _round(0, v)
    return (acc * _P1 + _P4) & _M64


def xxh64(data, seed=0):
    n, p = len(data), 0
    if n >= 32:
        v1, v2, v3, v4 = (seed + _P1 + _P2) & _M64, (seed + _P2) & _M64, seed, (seed - _P1) & _M64
        while p + 32 <= n:
            a, b, c, d = struct.unpack_from("<4Q", data, p)
            v1, v2, v3, v4 = _round(v1, a), _round(v2, b), _round(v3, c), _round(v4, d)
            p += 32
        h = (_rotl(v1, 1) + _rotl(v2, 7) + _rotl(v3, 12) + _rotl(v4, 18)) & _M64
        for v in (v1, v2, v3, v4):
            h = _merge(h, v)
    else:
        h = (seed + _P5) & _M64
    h = (h + n) & _M64
    while p + 8 <= n:
        h ^= _round(0, struct.unpack_from("<Q", data, p)[0])
        h = (_rotl(h, 27) * _P1 + _P4) & _M64
        p += 8
    if p + 4 <= n:
        h ^= (struct.unpack_from("<I", data, p)[0] * _P1) & _M64
        h = (_rotl(h, 23) * _P2 + _P3) & _M64
        p += 4
    while p < n:
        h ^= (data[p] * _P5) & _M64
        h = (_rotl(h, 11) * _P1) & _M64
        p += 1
    h ^= h >> 33
    h = (h * _P2) & _M64
    h ^= h >> 29
    h = (h * _P3) & _M64
    return h ^ (h >> 32)


# ---------------------------------------------------------------------------------------------
# Minimal RFC 6455 client: handshake, masked client frames, fragmentation, control frames

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class WebSocket:
    def __init__(self, url, timeout=READ_TIMEOUT_S):
        u = urlparse(url)
        if u.scheme != "ws":
            raise ProtocolViolation(f"only ws:// is supported, not {u.scheme}://")
        host, port = u.hostname, u.port or 80
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.closed = False
        self.fragmented_messages = 0  # messages that came in more than one WebSocket frame
        self.pings_answered = 0  # WebSocket-level pings from the server
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {u.path or '/'} HTTP/1.1\r\n"
            f"Host: {host}:{port}\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, _, rest = bytes(self.buf).partition(b"\r\n\r\n")
        self.buf = bytearray(rest)  # the server may send WELCOME right behind the 101
        lines = head.decode("latin-1").split("\r\n")
        if not lines[0].startswith("HTTP/1.1 101"):
            raise ProtocolViolation(f"upgrade refused: {lines[0]}")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        expected = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        if headers.get("sec-websocket-accept") != expected:
            raise ProtocolViolation("bad Sec-WebSocket-Accept")
        if "sec-websocket-extensions" in headers or "sec-websocket-protocol" in headers:
            raise ProtocolViolation("server negotiated an extension or subprotocol (§1 says none)")

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ProtocolViolation("connection closed by the server without a close frame")
        self.buf += chunk

    def _read(self, n):
        while len(self.buf) < n:
            self._fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def _send_frame(self, opcode, payload):
        header = bytearray([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header.append(0x80 | n)
        elif n < 65536:
            header.append(0x80 | 126)
            header += struct.pack(">H", n)
        else:
            header.append(0x80 | 127)
            header += struct.pack(">Q", n)
        mask = os.urandom(4)
        header += mask
        # XOR with the mask through big integers: fast enough, and standard library only.
        key = (mask * (n // 4 + 1))[:n]
        masked = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")
        self.sock.sendall(bytes(header) + masked)

    def send_binary(self, payload):
        self._send_frame(0x2, payload)

    def _read_frame(self):
        b0, b1 = self._read(2)
        fin, rsv, opcode = b0 & 0x80, b0 & 0x70, b0 & 0x0F
        if rsv:
            raise ProtocolViolation("RSV bits set although no extension was negotiated")
        if b1 & 0x80:
            raise ProtocolViolation("server frame is masked")
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack(">H", self._read(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", self._read(8))[0]
        return bool(fin), opcode, self._read(n)

    def recv_message(self):
        """The next whole binary message; answers pings and close frames on the way."""
        parts, first_opcode = [], None
        while True:
            fin, opcode, payload = self._read_frame()
            if opcode == 0x9:  # ping: answer with a pong carrying the same payload
                self._send_frame(0xA, payload)
                self.pings_answered += 1
                continue
            if opcode == 0xA:  # unsolicited pong
                continue
            if opcode == 0x8:
                code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else 1005
                reason = payload[2:].decode("utf-8", "replace")
                if not self.closed:
                    self._send_frame(0x8, payload[:2])
                    self.closed = True
                raise ProtocolViolation(f"server closed the WebSocket: {code} {reason}")
            if opcode == 0x0:
                if first_opcode is None:
                    raise ProtocolViolation("continuation frame without a message to continue")
            elif opcode in (0x1, 0x2):
                if first_opcode is not None:
                    raise ProtocolViolation("new data frame in the middle of a fragmented message")
                first_opcode = opcode
            else:
                raise ProtocolViolation(f"unknown WebSocket opcode {opcode:#x}")
            parts.append(payload)
            if fin:
                break
        if first_opcode == 0x1:
            raise ProtocolViolation("text message from the server")
        if len(parts) > 1:
            self.fragmented_messages += 1
        return b"".join(parts)

    def close(self, code=1000):
        if not self.closed:
            self.closed = True
            try:
                self._send_frame(0x8, struct.pack(">H", code))
                deadline = time.monotonic() + 2
                while time.monotonic() < deadline:  # wait for the server's close frame
                    _, opcode, _ = self._read_frame()
                    if opcode == 0x8:
                        break
            except (OSError, ProtocolViolation):
                pass
        self.sock.close()


# ---------------------------------------------------------------------------------------------
# Payload reading and writing helpers (§2: little-endian; str8, str16)


class Reader:
    def __init__(self, data, what):
        self.data, self.pos, self.what = data, 0, what

    def take(self, n):
        if self.pos + n > len(self.data):
            raise ProtocolViolation(f"{self.what}: payload too short")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u8(self):
        return self.take(1)[0]

    def u16(self):
        return struct.unpack("<H", self.take(2))[0]

    def u32(self):
        return struct.unpack("<I", self.take(4))[0]

    def u64(self):
        v = struct.unpack("<Q", self.take(8))[0]
        if v >= 1 << 53:
            raise ProtocolViolation(f"{self.what}: u64 of 2^53 or more")
        return v

    def str8(self):
        return self.take(self.u8()).decode("utf-8")

    def str16(self):
        return self.take(self.u16()).decode("utf-8")

    def u128be(self):
        return int.from_bytes(self.take(16), "big")

    def rest(self):
        return self.take(len(self.data) - self.pos)

    def end(self):
        if self.pos != len(self.data):
            raise ProtocolViolation(f"{self.what}: {len(self.data) - self.pos} trailing bytes")


def str8(s):
    b = s.encode("utf-8")
    if len(b) > 255:
        raise ValueError("str8 over 255 bytes")
    return bytes([len(b)]) + b


def varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def read_varint(data, pos):
    n, shift = 0, 0
    while True:
        if pos >= len(data):
            raise ProtocolViolation("record batch: varint runs past the batch")
        b = data[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        if not b & 0x80:
            return n, pos
        shift += 7


def encode_batch(records):
    """A record batch for a PUT (§4): checksum, base ordinal and arrival time written as zero."""
    body = bytearray()
    for key, data in records:
        k = key.encode("utf-8")
        body += varint(len(k)) + k + varint(0) + varint(len(data)) + data
    length = BATCH_HEADER + len(body)
    header = BATCH_MAGIC + struct.pack("<BBHII", 1, 0, 0, length, len(records)) + bytes(24)
    return header + bytes(body)


def decode_batch(batch):
    """(base ordinal, arrival ms, [(key, data)]) of a stored batch, checked field by field."""
    if batch[0:4] != BATCH_MAGIC:
        raise ProtocolViolation("record batch: bad magic")
    fmt, attributes, reserved, length, count = struct.unpack_from("<BBHII", batch, 4)
    checksum, base, arrival = struct.unpack_from("<QQQ", batch, 16)
    if fmt != 1 or attributes != 0 or reserved != 0:
        raise ProtocolViolation("record batch: bad version, attributes or reserved bytes")
    if length != len(batch) or count < 1:
        raise ProtocolViolation("record batch: bad length or record count")
    if checksum != xxh64(batch[24:length]):
        raise ProtocolViolation(f"record batch: checksum {checksum:#x} is not xxh64 of bytes [24, {length})")
    records, pos = [], BATCH_HEADER
    for _ in range(count):
        n, pos = read_varint(batch, pos)
        key = batch[pos:pos + n].decode("utf-8")
        pos += n
        n, pos = read_varint(batch, pos)
        pos += n  # explicit hash key: not used here
        n, pos = read_varint(batch, pos)
        data = batch[pos:pos + n]
        pos += n
        records.append((key, bytes(data)))
    if pos != length:
        raise ProtocolViolation("record batch: records do not fill the body")
    return base, arrival, records


def sequence_number(base, ordinal, arrival_ms):
    """§4: S + o × 2^80 + floor(t / 1000) × 2^36."""
    return base + ordinal * (1 << 80) + (arrival_ms // 1000) * (1 << 36)


def hash_key(partition_key):
    """§8.2: MD5 of the UTF-8 partition key, read as a big-endian 128-bit integer."""
    return int.from_bytes(hashlib.md5(partition_key.encode("utf-8")).digest(), "big")


# ---------------------------------------------------------------------------------------------
# The Runnel client


class Subscription:
    def __init__(self, sub_id, shard_id, expected):
        self.id, self.shard_id, self.expected = sub_id, shard_id, expected
        self.subscribed = False
        self.start_ordinal = None
        self.seq_base = None
        self.granted = 0  # bytes of credit granted in total
        self.consumed = 0  # record-batch bytes received in total
        self.stream = bytearray()  # unparsed bytes of the batch stream
        self.stream_watermark = None  # watermark of the frame that began the pending batch
        self.records = []
        self.next_ordinal = None
        self.ended = None  # (reason, next ordinal) of the first SUBSCRIPTION_END
        self.unsubscribed = False  # UNSUBSCRIBE sent: the server answers it whatever came before
        self.error = None

    @property
    def credit_left(self):
        return self.granted - self.consumed


class RunnelClient:
    def __init__(self, url):
        self.ws = WebSocket(url.rstrip("/") + "/v1")
        self.next_id = 1
        self.answers = {}  # request id -> (opcode, payload)
        self.subs = {}  # subscription id -> Subscription
        self.stats = {"credit_frames": 0, "records_frames": 0, "straddling_batches": 0}
        opcode, flags, request_id, payload = self._recv_frame()
        if opcode != WELCOME or request_id != 0:
            raise ProtocolViolation(f"first frame is opcode {opcode:#x}, not WELCOME with id 0")
        r = Reader(payload, "WELCOME")
        version = r.u8()
        if version != VERSION:
            self.ws.close(4002)
            raise ProtocolViolation(f"server speaks protocol version {version}")
        if r.take(3) != b"\0\0\0":
            raise ProtocolViolation("WELCOME: reserved bytes not 0")
        self.max_frame_bytes, self.max_puts_in_flight, self.max_put_bytes_in_flight = r.u32(), r.u32(), r.u32()
        self.max_subscriptions, self.idle_timeout_ms, self.max_batch_bytes = r.u32(), r.u32(), r.u32()
        self.software = r.str8()
        # trailing bytes of WELCOME only are ignored (§5.1)

    # -- frames ----------------------------------------------------------------------------

    def _new_id(self):
        request_id = self.next_id
        self.next_id = self.next_id + 1 if self.next_id < 0xFFFFFFFF else 1
        return request_id

    def _send(self, opcode, request_id, payload=b"", flags=0):
        self.ws.send_binary(struct.pack("<BBHII", VERSION, opcode, flags, request_id, len(payload)) + payload)

    def _recv_frame(self):
        message = self.ws.recv_message()
        if len(message) < 12:
            raise ProtocolViolation("message shorter than the 12-byte frame header")
        version, opcode, flags, request_id, length = struct.unpack_from("<BBHII", message, 0)
        if version != VERSION:
            raise ProtocolViolation(f"frame of version {version}")
        if flags != 0:
            raise ProtocolViolation(f"frame with flags {flags:#x} from the server")
        if length != len(message) - 12:
            raise ProtocolViolation("payload length is not the message length - 12")
        return opcode, flags, request_id, message[12:]

    def _pump(self):
        """Reads one frame and files it: answers by request id, subscription frames by sub id."""
        opcode, _, request_id, payload = self._recv_frame()
        if opcode == PING:
            self._send(PONG, request_id, payload)
        elif opcode == ERROR:
            r = Reader(payload, "ERROR")
            flags, name, message = r.u8(), r.str8(), r.str16()
            r.end()
            if flags & 1 or request_id == 0:
                raise ProtocolViolation(f"fatal ERROR for request {request_id}: {name}: {message}")
            if flags:
                raise ProtocolViolation(f"ERROR with unknown flags {flags:#x}")
            sub = self.subs.get(request_id)
            if sub is not None:
                sub.error = (name, message)
                del self.subs[request_id]
            else:
                self._file_answer(request_id, opcode, payload)
        elif opcode in (SUBSCRIBED, RECORDS, SUBSCRIPTION_END):
            sub = self.subs.get(request_id)
            if sub is None:
                raise ProtocolViolation(f"opcode {opcode:#x} for unknown subscription {request_id}")
            self._on_subscription_frame(sub, opcode, payload)
        elif opcode in (PONG, PUT_ACK, STREAM_LIST, SHARD_MAP):
            self._file_answer(request_id, opcode, payload)
        else:
            raise ProtocolViolation(f"unexpected opcode {opcode:#x} from the server")

    def _file_answer(self, request_id, opcode, payload):
        if request_id in self.answers:
            raise ProtocolViolation(f"second answer for request {request_id}")
        self.answers[request_id] = (opcode, payload)

    def _await(self, request_id, expected_opcode):
        while request_id not in self.answers:
            self._pump()
        opcode, payload = self.answers.pop(request_id)
        if opcode == ERROR:
            r = Reader(payload, "ERROR")
            r.u8()
            raise ServerError(r.str8(), r.str16())
        if opcode != expected_opcode:
            raise ProtocolViolation(f"request {request_id}: answered by opcode {opcode:#x}")
        return payload

    # -- discovery (§8) --------------------------------------------------------------------

    def list_streams(self):
        request_id = self._new_id()
        self._send(LIST_STREAMS, request_id)
        r = Reader(self._await(request_id, STREAM_LIST), "STREAM_LIST")
        names = [r.str8() for _ in range(r.u32())]
        r.end()
        return names

    def list_shards(self, stream):
        request_id = self._new_id()
        self._send(LIST_SHARDS, request_id, str8(stream))
        r = Reader(self._await(request_id, SHARD_MAP), "SHARD_MAP")
        shards = []
        for _ in range(r.u32()):
            flags = r.u8()  # §8.2: bits other than 0 and 1 are ignored
            shards.append({
                "closed": bool(flags & 1),
                "auto": bool(flags & 2),
                "id": r.str8(),
                "parent": r.str8(),
                "adjacent_parent": r.str8(),
                "start": r.u128be(),
                "end": r.u128be(),
                "seq_base": int(r.str8()),
            })
        r.end()
        return shards

    # -- put (§6) --------------------------------------------------------------------------

    def send_put(self, stream, records, routed=False):
        batch = encode_batch(records)
        if len(batch) > self.max_batch_bytes:
            raise ValueError("batch over the server's limit")
        request_id = self._new_id()
        self._send(PUT, request_id, str8(stream) + batch, FLAG_ROUTED if routed else 0)
        return request_id

    def await_put(self, request_id, record_count):
        """Per record, in put order: {"seq", "shard"} or {"error", "message", "shard"}."""
        r = Reader(self._await(request_id, PUT_ACK), "PUT_ACK")
        n, failed, entry_count = r.u32(), r.u32(), r.u16()
        if n != record_count or entry_count < 1 or r.u16() != 0:
            raise ProtocolViolation("PUT_ACK: bad record count, entry count or reserved field")
        entries = []
        for _ in range(entry_count):
            status, count, shard = r.u8(), r.u32(), r.str8()
            if status == 0:
                entries.append({"status": 0, "count": count, "shard": shard, "first": int(r.str8())})
            elif status == 1:
                entries.append({"status": 1, "count": count, "shard": shard, "error": r.str8(), "message": r.str16()})
            else:
                raise ProtocolViolation(f"PUT_ACK: entry status {status}")
        index = [r.u16() for _ in range(n)] if entry_count > 1 else [0] * n
        r.end()
        if sum(e["count"] for e in entries) != n or sum(e["count"] for e in entries if e["status"]) != failed:
            raise ProtocolViolation("PUT_ACK: entry counts do not add up")
        taken = [0] * entry_count
        out = []
        for i in index:
            if i >= entry_count:
                raise ProtocolViolation("PUT_ACK: record names an entry that does not exist")
            e = entries[i]
            if e["status"] == 0:
                out.append({"seq": str(e["first"] + taken[i] * (1 << 80)), "shard": e["shard"]})
            else:
                out.append({"error": e["error"], "message": e["message"], "shard": e["shard"]})
            taken[i] += 1
        if taken != [e["count"] for e in entries]:
            raise ProtocolViolation("PUT_ACK: record table disagrees with entry counts")
        return out

    # -- subscribe and credit (§7) ---------------------------------------------------------

    def subscribe(self, stream, shard_id, expected, initial_credit=CREDIT_STEP):
        sub = Subscription(self._new_id(), shard_id, expected)
        payload = struct.pack("<B3sIQ", TRIM_HORIZON, b"\0\0\0", initial_credit, 0)
        payload += str8(stream) + str8(shard_id) + str8("")
        self.subs[sub.id] = sub  # RECORDS may follow SUBSCRIBED at once
        sub.granted = initial_credit
        self._send(SUBSCRIBE, sub.id, payload)
        return sub

    def grant(self, sub, n):
        self._send(CREDIT, sub.id, struct.pack("<I", n))
        self.stats["credit_frames"] += 1
        sub.granted += n

    def unsubscribe(self, sub):
        sub.unsubscribed = True
        self._send(UNSUBSCRIBE, sub.id)

    def _on_subscription_frame(self, sub, opcode, payload):
        if opcode == SUBSCRIBED:
            if sub.subscribed:
                raise ProtocolViolation("second SUBSCRIBED")
            r = Reader(payload, "SUBSCRIBED")
            sub.start_ordinal, watermark, sub.seq_base = r.u64(), r.u64(), int(r.str8())
            r.end()
            sub.subscribed = True
            sub.next_ordinal = sub.start_ordinal
        elif opcode == RECORDS:
            if not sub.subscribed:
                raise ProtocolViolation("RECORDS before SUBSCRIBED")
            r = Reader(payload, "RECORDS")
            watermark, chunk = r.u64(), r.rest()
            if not chunk:
                raise ProtocolViolation("RECORDS without batch bytes")
            sub.consumed += len(chunk)  # = frame length - 20
            self.stats["records_frames"] += 1
            if sub.credit_left < 0:
                raise ProtocolViolation(f"server sent {-sub.credit_left} bytes beyond the credit granted")
            if not sub.stream:
                sub.stream_watermark = watermark
            sub.stream += chunk
            self._parse_batches(sub, watermark)
        elif opcode == SUBSCRIPTION_END:
            r = Reader(payload, "SUBSCRIPTION_END")
            end = (r.u8(), r.u64())
            r.end()
            if sub.ended is None:
                sub.ended = end
            if end[0] == SHARD_CLOSED and sub.unsubscribed:
                return  # an UNSUBSCRIBE crossed it: its answer (reason 0) is still to come
            del self.subs[sub.id]

    def _parse_batches(self, sub, watermark):
        while len(sub.stream) >= 12:
            length = struct.unpack_from("<I", sub.stream, 8)[0]
            if length < BATCH_HEADER:
                raise ProtocolViolation("batch stream: batch length under 40")
            if len(sub.stream) < length:
                self.stats["straddling_batches"] += 1
                return  # the batch straddles frames: wait for the rest
            batch = bytes(sub.stream[:length])
            del sub.stream[:length]
            base, arrival, records = decode_batch(batch)
            if base + len(records) > sub.stream_watermark:
                raise ProtocolViolation("batch holds records at or above its frame's watermark")
            sub.stream_watermark = watermark
            for k, (key, data) in enumerate(records):
                ordinal = base + k
                if ordinal < sub.start_ordinal:
                    continue  # the first batch may begin before the start ordinal
                if ordinal != sub.next_ordinal:
                    raise ProtocolViolation(f"ordinal {ordinal} where {sub.next_ordinal} was next")
                sub.next_ordinal = ordinal + 1
                sub.records.append({
                    "seq": str(sequence_number(sub.seq_base, ordinal, arrival)),
                    "key": key,
                    "data_hex": data.hex(),
                    "arrival_ms": arrival,
                })

    def read_shards(self, stream, expected_per_shard):
        """Subscribes to every shard from TRIM_HORIZON and reads `expected` records of each."""
        subs = [self.subscribe(stream, shard, n) for shard, n in expected_per_shard.items()]
        deadline = time.monotonic() + READ_TIMEOUT_S
        for sub in subs:
            while len(sub.records) < sub.expected and sub.ended is None:
                if sub.error:
                    raise ServerError(*sub.error)
                if sub.credit_left == 0:
                    self.grant(sub, CREDIT_STEP)  # only once the last grant is used up
                if time.monotonic() > deadline:
                    raise ProtocolViolation(f"{sub.shard_id}: {len(sub.records)} of {sub.expected} records read")
                self._pump()
                # grant the other subscriptions too while waiting on this one
                for other in subs:
                    if other is not sub and other.id in self.subs and other.credit_left == 0 \
                            and len(other.records) < other.expected:
                        self.grant(other, CREDIT_STEP)
        for sub in subs:
            if sub.id in self.subs:
                self.unsubscribe(sub)
        while any(sub.id in self.subs for sub in subs):
            self._pump()
        for sub in subs:
            if sub.error:
                raise ServerError(*sub.error)
            if sub.ended not in ((UNSUBSCRIBED, sub.next_ordinal), (SHARD_CLOSED, sub.next_ordinal)):
                raise ProtocolViolation(f"{sub.shard_id}: SUBSCRIPTION_END {sub.ended}, next ordinal {sub.next_ordinal}")
            if sub.stream:
                raise ProtocolViolation(f"{sub.shard_id}: {len(sub.stream)} bytes of an unfinished batch")
            if len(sub.records) != sub.expected:
                raise ProtocolViolation(f"{sub.shard_id}: read {len(sub.records)} records, expected {sub.expected}")
        return {sub.shard_id: sub.records for sub in subs}

    def read_to_end(self, stream, shard_id):
        """Reads a closed shard from TRIM_HORIZON until SUBSCRIPTION_END reason 1 (§7.5)."""
        sub = self.subscribe(stream, shard_id, None)
        deadline = time.monotonic() + READ_TIMEOUT_S
        while sub.ended is None:
            if sub.error:
                raise ServerError(*sub.error)
            if sub.credit_left == 0:
                self.grant(sub, CREDIT_STEP)
            if time.monotonic() > deadline:
                raise ProtocolViolation(f"{shard_id}: no SUBSCRIPTION_END after {len(sub.records)} records")
            self._pump()
        if sub.ended != (SHARD_CLOSED, sub.next_ordinal):
            raise ProtocolViolation(f"{shard_id}: SUBSCRIPTION_END {sub.ended}, next ordinal {sub.next_ordinal}")
        if sub.stream:
            raise ProtocolViolation(f"{shard_id}: {len(sub.stream)} bytes of an unfinished batch")
        return sub.records, sub.ended

    # -- keep-alive (§5.2) -----------------------------------------------------------------

    def ping(self, payload):
        request_id = self._new_id()
        self._send(PING, request_id, payload)
        return self._await(request_id, PONG) == payload

    def close(self):
        self.ws.close(1000)


# ---------------------------------------------------------------------------------------------


def record(i):
    return f"py-{i}", bytes((i * 31 + j * 7) & 0xFF for j in range(1 + (i * 37) % 300))


def owner(shards, key):
    h = hash_key(key)
    for s in shards:
        if not s["closed"] and s["start"] <= h <= s["end"]:
            return s["id"]
    raise ProtocolViolation(f"no open shard holds the hash key of {key}")


def main(argv):
    read_closed = len(argv) == 5 and argv[3] == "read-closed"
    if len(argv) != 4 and not read_closed:
        print("usage: runnel_client.py <ws-url> <stream-name> <records>", file=sys.stderr)
        print("       runnel_client.py <ws-url> <stream-name> read-closed <shard-id>", file=sys.stderr)
        return 2
    url, stream = argv[1], argv[2]
    client = RunnelClient(url)
    try:
        if read_closed:
            records, ended = client.read_to_end(stream, argv[4])
            client.close()
            print(json.dumps({"records": records, "ended": list(ended)}))
            return 0
        return run(client, stream, int(argv[3]))
    except ProtocolViolation:
        client.ws.close(4002)  # §5.3: a client that cannot read a frame closes with 4002
        raise


def run(client, stream, count):
    streams = client.list_streams()
    shards = client.list_shards(stream)

    # Puts: the first half unrouted in batches of 250 (the server splits them per shard), the
    # second half routed by the shard map (one batch per shard, ROUTED flag). All in flight at once.
    # A stream that places records itself (§8.2 bit 1, AUTO) takes every put unrouted.
    auto = any(s["auto"] for s in shards)
    half = count if auto else count // 2
    puts = []  # (request id, record indices)
    for lo in range(0, half, 250):
        indices = list(range(lo, min(lo + 250, half)))
        puts.append((client.send_put(stream, [record(i) for i in indices]), indices))
    by_shard = {}
    for i in range(half, count):
        by_shard.setdefault(owner(shards, record(i)[0]), []).append(i)
    for shard_id, indices in by_shard.items():
        puts.append((client.send_put(stream, [record(i) for i in indices], routed=True), indices))
    if len(puts) > client.max_puts_in_flight:
        raise ValueError("more puts than the server allows in flight")
    acks = [None] * count
    for request_id, indices in puts:
        for i, ack in zip(indices, client.await_put(request_id, len(indices))):
            acks[i] = ack
    for i in range(half, count):  # a routed record must land where the map said
        if "shard" in acks[i] and acks[i]["shard"] != owner(shards, record(i)[0]):
            raise ProtocolViolation(f"routed record {i} landed on {acks[i]['shard']}")

    expected = {s["id"]: 0 for s in shards}
    for ack in acks:
        if "seq" in ack:
            expected[ack["shard"]] += 1
    read = client.read_shards(stream, expected)

    try:
        client.await_put(client.send_put("no-such-stream-" + str(os.getpid()), [record(0)]), 1)
        raise ProtocolViolation("a put to a missing stream was acknowledged")
    except ServerError as e:
        missing_stream_error = e.name

    pong = client.ping(b"python says hi")
    client.close()
    print(json.dumps({
        "streams": streams,
        "shards": [s["id"] for s in shards],
        "auto": auto,
        "acks": [{"seq": a["seq"], "shard": a["shard"]} if "seq" in a else {"error": a["error"]} for a in acks],
        "read": read,
        "missing_stream_error": missing_stream_error,
        "pong": pong,
        "server": client.software,
        "stats": dict(client.stats, puts=len(puts), fragmented_messages=client.ws.fragmented_messages,
                      ws_pings_answered=client.ws.pings_answered),
    }))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except (ProtocolViolation, ServerError, OSError, UnicodeDecodeError, struct.error) as e:
        print(f"runnel_client: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
