/**
 * A minimal WebSocket client (RFC 6455) for Node versions without `globalThis.WebSocket` (Node 20
 * has none by default). The Runnel client loads this file by dynamic import only when the global
 * is missing, so a browser bundle never reaches `node:` modules.
 *
 * It implements the part of the WHATWG WebSocket interface the client uses: `onopen`,
 * `onmessage`, `onclose`, `onerror`, `send`, `close`, `readyState`, `bufferedAmount` and
 * `binaryType`, plus one extension: `binaryType = 'uint8array'` delivers binary messages as
 * Uint8Array views, with no copy beyond the one out of the read buffer.
 *
 * Reading: plain sockets read with `onread` into one reused buffer (READ_BUFFER_BYTES). A frame
 * whose payload is not wholly in it gets a buffer of exactly its size, and the socket reads the
 * rest of the payload straight into that one. A message therefore costs one allocation of its own
 * size, where reading into fresh 64 KiB chunks and joining them cost two to three times its size
 * (and made V8 collect its external memory that much more often). The fragments of a fragmented
 * message land in place in one buffer, grown to fit the next fragment and at least doubled when
 * it grows, so the copies on growing add up to less than the message; joining fragments read
 * into buffers of their own cost a copy of the whole message and twice its size in allocations.
 * (Sizing the buffer from a Runnel frame header's announced length was measured too: on a VM
 * whose fresh pages are expensive, glibc's trimming of one exactly sized buffer per message
 * made it slower than doubling; bench/RESULTS.md.) TLS sockets, which take no `onread`, copy
 * each decrypted chunk into the same places.
 *
 * Frames: client frames are masked with a fresh random key each (RFC 6455 §5.3); server frames
 * must not be. Fragmented messages are reassembled; control frames may arrive between
 * fragments. Pings are answered with pongs. Text messages are delivered as strings. No extension
 * and no subprotocol is negotiated. Messages over `messageBytesMax` close the connection with
 * 1009 (message too big) before their bytes are buffered.
 */
import { createHash, randomBytes, randomFillSync } from 'node:crypto';
import { isIP, connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions as TlsConnectionOptions } from 'node:tls';

import { SIMD_MASKING, copyMaskedSimd } from './simd-mask.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** Largest HTTP upgrade response read before the handshake is declared failed. */
const HANDSHAKE_BYTES_MAX = 16 * 1024;
/** A closing handshake that gets no answer ends by destroying the socket after this. */
const CLOSE_TIMEOUT_MS = 5_000;
/** Default largest message accepted; the Runnel client sets its own. */
const MESSAGE_BYTES_MAX_DEFAULT = 64 * 1024 * 1024;
/** Control frames carry at most 125 bytes (RFC 6455 §5.5). */
const CONTROL_PAYLOAD_BYTES_MAX = 125;
/** The smallest buffer a fragmented message starts reassembling in. */
const ASSEMBLY_BYTES_MIN = 4 * 1024;
/** Random mask keys are drawn from a pool refilled this many keys at a time. */
const MASK_POOL_KEYS = 1024;
/**
 * Frames of at least this many bytes are built in buffers reused once the socket has written
 * them. Allocating one per frame made V8 count every big put as new external memory and run a
 * full collection every few tens of megabytes sent (~20 % of a core at 700 MB/s).
 */
const FRAME_POOL_BYTES_MIN = 64 * 1024;
/** Most bytes of written frame buffers a connection keeps for reuse. */
const FRAME_POOL_BYTES_MAX = 16 * 1024 * 1024;
/** The reused buffer sockets read into: headers, small frames and the start of large ones. */
const READ_BUFFER_BYTES = 64 * 1024;
/** Most header bytes of a frame (2 + 8 of length; server frames carry no mask key). */
const FRAME_HEADER_BYTES_MAX = 10;

const OPCODE_CONTINUATION = 0x0;
const OPCODE_TEXT = 0x1;
const OPCODE_BINARY = 0x2;
const OPCODE_CLOSE = 0x8;
const OPCODE_PING = 0x9;
const OPCODE_PONG = 0xa;
const FIN_BIT = 0x80;
const RSV_BITS = 0x70;
const MASK_BIT = 0x80;
const LENGTH_16 = 126;
const LENGTH_64 = 127;

const CLOSE_NORMAL = 1000;
const CLOSE_NO_STATUS = 1005;
const CLOSE_ABNORMAL = 1006;
const CLOSE_PROTOCOL_ERROR = 1002;
const CLOSE_TOO_BIG = 1009;

export interface NodeWebSocketOptions {
  messageBytesMax?: number;
  /** For `wss:` URLs: TLS options such as a private CA (`ca`); host and server name are set. */
  tls?: TlsConnectionOptions;
}

export interface CloseEventLike {
  type: 'close';
  code: number;
  reason: string;
  wasClean: boolean;
}

export interface MessageEventLike {
  type: 'message';
  data: ArrayBuffer | Uint8Array | string;
}

export interface ErrorEventLike {
  type: 'error';
  error: Error;
  message: string;
  /** The HTTP status of an upgrade the server answered with something other than 101. */
  status?: number;
}

const textDecoder = new TextDecoder();
const textEncoder = new TextEncoder();
let maskPool = Buffer.alloc(0);
let maskPoolOffset = 0;

function nextMaskKey(): Buffer {
  if (maskPoolOffset + 4 > maskPool.length) {
    maskPool = randomFillSync(Buffer.allocUnsafe(4 * MASK_POOL_KEYS));
    maskPoolOffset = 0;
  }
  const key = maskPool.subarray(maskPoolOffset, maskPoolOffset + 4);
  maskPoolOffset += 4;
  return key;
}

/** Below this many bytes, masking byte by byte beats setting up word views. */
const WORD_MASKING_BYTES_MIN = 64;

/**
 * From this many bytes a part is masked in WebAssembly SIMD (simd-mask.ts), where it can be:
 * at 32 bytes the two cost the same here (bench/micro/ws-mask.ts).
 */
export const SIMD_MASK_BYTES_MIN = 64;

/**
 * Writes `source` XOR-ed with the mask `key` to `target[at..]`; `phase` is the position of
 * `source` in the message (the key repeats every 4 bytes of the message). Large parts are
 * masked in SIMD unless `simd` is false.
 */
export function copyMasked(
  target: Uint8Array,
  at: number,
  source: Uint8Array,
  key: Uint8Array,
  phase: number,
  simd = SIMD_MASKING,
): void {
  if (simd && source.length >= SIMD_MASK_BYTES_MIN) {
    const r = phase & 3;
    const word =
      key[r]! | (key[(r + 1) & 3]! << 8) | (key[(r + 2) & 3]! << 16) | (key[(r + 3) & 3]! << 24);
    copyMaskedSimd(target, at, source, word);
    return;
  }
  copyMaskedWords(target, at, source, key, phase);
}

/**
 * copyMasked in JavaScript. When source and target lie at the same alignment, one pass of
 * 32-bit words does it (unrolled: 3-4x faster here than copying first and masking in place);
 * otherwise copy, then mask in place.
 */
function copyMaskedWords(
  target: Uint8Array,
  at: number,
  source: Uint8Array,
  key: Uint8Array,
  phase: number,
): void {
  const length = source.length;
  let i = 0;
  const targetAlignment = (target.byteOffset + at) & 3;
  if (length >= WORD_MASKING_BYTES_MIN) {
    const head = (4 - targetAlignment) & 3;
    const sameAlignment = targetAlignment === (source.byteOffset & 3);
    if (!sameAlignment) target.set(source, at);
    for (; i < head; i++) target[at + i] = source[i]! ^ key[(phase + i) & 3]!;
    const words = (length - i) >>> 2;
    // The key rotated so that its byte for message position (phase + i) lines up.
    const r = (phase + i) & 3;
    const word =
      key[r]! | (key[(r + 1) & 3]! << 8) | (key[(r + 2) & 3]! << 16) | (key[(r + 3) & 3]! << 24);
    const out = new Int32Array(target.buffer, target.byteOffset + at + i, words);
    const from = sameAlignment ? new Int32Array(source.buffer, source.byteOffset + i, words) : out;
    let w = 0;
    for (; w + 4 <= words; w += 4) {
      out[w] = from[w]! ^ word;
      out[w + 1] = from[w + 1]! ^ word;
      out[w + 2] = from[w + 2]! ^ word;
      out[w + 3] = from[w + 3]! ^ word;
    }
    for (; w < words; w++) out[w] = from[w]! ^ word;
    i += words * 4;
  }
  for (; i < length; i++) target[at + i] = source[i]! ^ key[(phase + i) & 3]!;
}

/**
 * How far (0–3 bytes) to move a payload that would start at `payloadOffset` so that its largest
 * part lies at the same alignment as its source bytes.
 */
function aligningShift(parts: readonly Uint8Array[], payloadOffset: number): number {
  let largest: Uint8Array | undefined;
  let largestAt = 0;
  let at = 0;
  for (const part of parts) {
    if (part.length > (largest?.length ?? 0)) {
      largest = part;
      largestAt = at;
    }
    at += part.length;
  }
  if (!largest || largest.length < WORD_MASKING_BYTES_MIN) return 0;
  const wanted = (largest.byteOffset - largestAt) & 3;
  return (wanted - (payloadOffset & 3) + 4) & 3;
}

function toBytes(data: ArrayBuffer | ArrayBufferView | string): Uint8Array {
  if (typeof data === 'string') return textEncoder.encode(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

export class NodeWebSocket {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  /** Marks this implementation: it accepts `binaryType = 'uint8array'`. */
  static readonly deliversUint8Array = true;

  readonly url: string;
  readyState = NodeWebSocket.CONNECTING;
  binaryType: 'arraybuffer' | 'uint8array' = 'arraybuffer';
  onopen: ((event: { type: 'open' }) => void) | null = null;
  onmessage: ((event: MessageEventLike) => void) | null = null;
  onclose: ((event: CloseEventLike) => void) | null = null;
  onerror: ((event: ErrorEventLike) => void) | null = null;

  private readonly socket: Socket;
  private readonly key = randomBytes(16).toString('base64');
  private readonly messageBytesMax: number;
  /** Until the upgrade response is complete. */
  private handshaking = true;
  /** Reads land here; bytes [readStart, readEnd) are read and not parsed yet. */
  private readonly readBuffer = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
  private readStart = 0;
  private readEnd = 0;
  /** The frame whose payload is being read straight into `payload`, once its header is read. */
  private frame: { fin: boolean; opcode: number; payload: Buffer; filled: number } | undefined;
  /** The fragmented data message being received: its bytes so far are [0, assemblyBytes). */
  private assembly: Buffer | undefined;
  private assemblyBytes = 0;
  private assemblyOpcode = 0;
  private corked = false;
  /** Frame buffers the socket has written, free for the next large frame. */
  private readonly framePool: Buffer[] = [];
  private framePoolBytes = 0;
  private closeSent = false;
  private closeCode = CLOSE_ABNORMAL;
  private closeReason = '';
  private closeReceived = false;
  private closeTimer: ReturnType<typeof setTimeout> | undefined;
  private closedEmitted = false;
  /** A protocol error was seen: the rest of the input is ignored. */
  private failed = false;

  constructor(
    url: string | URL,
    _protocols?: string | string[],
    options: NodeWebSocketOptions = {},
  ) {
    const target = new URL(url);
    if (target.protocol !== 'ws:' && target.protocol !== 'wss:') {
      throw new SyntaxError(`NodeWebSocket: unsupported URL scheme ${target.protocol}`);
    }
    this.url = target.href;
    this.messageBytesMax = options.messageBytesMax ?? MESSAGE_BYTES_MAX_DEFAULT;
    const secure = target.protocol === 'wss:';
    const port = Number(target.port || (secure ? 443 : 80));
    const host = target.hostname.replace(/^\[|\]$/g, '');
    const request =
      `GET ${target.pathname}${target.search} HTTP/1.1\r\n` +
      `Host: ${target.host}\r\n` +
      'Upgrade: websocket\r\n' +
      'Connection: Upgrade\r\n' +
      `Sec-WebSocket-Key: ${this.key}\r\n` +
      'Sec-WebSocket-Version: 13\r\n\r\n';
    if (secure) {
      // RFC 6066 names hosts, not addresses, in SNI.
      const servername = isIP(host) === 0 ? host : undefined;
      const connection = { ...options.tls, host, port, servername };
      this.socket = tlsConnect(connection, () => this.socket.write(request));
      this.socket.on('data', (chunk: Buffer) => this.onChunk(chunk));
    } else {
      const onread = {
        buffer: () => this.readTarget(),
        callback: (bytes: number) => {
          this.onRead(bytes);
          return true;
        },
      };
      this.socket = netConnect({ host, port, onread }, () => this.socket.write(request));
    }
    this.socket.setNoDelay(true);
    this.socket.on('error', (error) => this.fail(error));
    this.socket.on('close', () => this.emitClose());
  }

  /** Bytes handed to `send` and not yet written to the socket. */
  get bufferedAmount(): number {
    return this.socket.writableLength;
  }

  send(data: ArrayBuffer | ArrayBufferView | string): void {
    if (this.readyState === NodeWebSocket.CONNECTING) {
      throw new Error('NodeWebSocket: send() before the connection opened');
    }
    if (this.readyState !== NodeWebSocket.OPEN) return;
    this.writeFrame(typeof data === 'string' ? OPCODE_TEXT : OPCODE_BINARY, [toBytes(data)]);
  }

  /**
   * Sends the concatenation of `parts` as one binary message (an extension: a header and a
   * payload kept apart are framed with one copy, the one masking needs anyway).
   */
  sendParts(parts: readonly Uint8Array[]): void {
    if (this.readyState === NodeWebSocket.CONNECTING) {
      throw new Error('NodeWebSocket: send() before the connection opened');
    }
    if (this.readyState !== NodeWebSocket.OPEN) return;
    this.writeFrame(OPCODE_BINARY, parts);
  }

  close(code = CLOSE_NORMAL, reason = ''): void {
    const state = this.readyState;
    if (state === NodeWebSocket.CLOSED || state === NodeWebSocket.CLOSING) return;
    if (this.readyState === NodeWebSocket.CONNECTING) {
      this.readyState = NodeWebSocket.CLOSING;
      this.socket.destroy();
      return;
    }
    this.readyState = NodeWebSocket.CLOSING;
    this.sendClose(code, reason);
    this.closeTimer = setTimeout(() => this.socket.destroy(), CLOSE_TIMEOUT_MS);
    this.closeTimer.unref?.();
  }

  // ---- writing ----------------------------------------------------------------------------------

  private writeFrame(opcode: number, parts: readonly Uint8Array[]): void {
    let length = 0;
    for (const part of parts) length += part.length;
    const extended = length < LENGTH_16 ? 0 : length <= 0xffff ? 2 : 8;
    const headerBytes = 2 + extended + 4;
    // Up to 3 spare bytes: without SIMD, the frame is placed so the largest part lands at its
    // own alignment and the JavaScript words mask it in one pass. SIMD masking copies through
    // its own memory, where alignment does not matter.
    const space = this.frameSpace(3 + headerBytes + length);
    const shift = SIMD_MASKING ? 0 : aligningShift(parts, space.byteOffset + headerBytes);
    const frame = space.subarray(shift, shift + headerBytes + length);
    frame[0] = FIN_BIT | opcode;
    if (extended === 0) {
      frame[1] = MASK_BIT | length;
    } else if (extended === 2) {
      frame[1] = MASK_BIT | LENGTH_16;
      frame.writeUInt16BE(length, 2);
    } else {
      frame[1] = MASK_BIT | LENGTH_64;
      frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
      frame.writeUInt32BE(length >>> 0, 6);
    }
    const key = nextMaskKey();
    frame.set(key, 2 + extended);
    let offset = 0;
    for (const part of parts) {
      copyMasked(frame, headerBytes + offset, part, key, offset);
      offset += part.length;
    }
    // Frames sent in one turn leave in one write.
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    if (space.length < FRAME_POOL_BYTES_MIN) {
      this.socket.write(frame);
    } else {
      this.socket.write(frame, (error) => {
        if (!error) this.recycle(space);
      });
    }
  }

  /** A buffer of at least `bytes` for a frame: a written one of fitting size, or a new one. */
  private frameSpace(bytes: number): Buffer {
    if (bytes < FRAME_POOL_BYTES_MIN) return Buffer.allocUnsafe(bytes);
    const pool = this.framePool;
    for (let i = pool.length - 1; i >= 0; i--) {
      const candidate = pool[i]!;
      // At most twice the size: a small frame does not pin a large buffer.
      if (candidate.length >= bytes && candidate.length <= 2 * bytes) {
        pool.splice(i, 1);
        this.framePoolBytes -= candidate.length;
        return candidate;
      }
    }
    return Buffer.allocUnsafeSlow(bytes);
  }

  /** Keeps a written frame buffer, dropping the oldest kept ones when the pool is full. */
  private recycle(space: Buffer): void {
    if (space.length > FRAME_POOL_BYTES_MAX) return;
    const pool = this.framePool;
    // The oldest go first: they fit frames the connection may no longer send (a pool full of
    // buffers too small for today's frames would make it allocate every one).
    let dropped = 0;
    while (this.framePoolBytes + space.length > FRAME_POOL_BYTES_MAX) {
      this.framePoolBytes -= pool[dropped]!.length;
      dropped++;
    }
    if (dropped > 0) pool.splice(0, dropped);
    pool.push(space);
    this.framePoolBytes += space.length;
  }

  private sendClose(code: number, reason: string): void {
    if (this.closeSent) return;
    this.closeSent = true;
    const reasonBytes = textEncoder.encode(reason).subarray(0, CONTROL_PAYLOAD_BYTES_MAX - 2);
    const payload = Buffer.alloc(2 + reasonBytes.length);
    payload.writeUInt16BE(code, 0);
    payload.set(reasonBytes, 2);
    this.writeFrame(OPCODE_CLOSE, [code === CLOSE_NO_STATUS ? new Uint8Array(0) : payload]);
  }

  // ---- reading ----------------------------------------------------------------------------------

  /** Where the next read lands: the rest of a large payload, or the read buffer's free space. */
  private readTarget(): Buffer {
    if (this.frame) return this.frame.payload.subarray(this.frame.filled);
    if (this.readStart > 0) {
      // What is left unparsed is less than a frame header: move it to the front.
      this.readBuffer.copyWithin(0, this.readStart, this.readEnd);
      this.readEnd -= this.readStart;
      this.readStart = 0;
    }
    return this.readBuffer.subarray(this.readEnd);
  }

  /** `bytes` were read into the last `readTarget()`. */
  private onRead(bytes: number): void {
    if (this.failed) return;
    if (this.frame) {
      this.frame.filled += bytes;
      if (this.frame.filled < this.frame.payload.length) return;
      const { fin, opcode, payload } = this.frame;
      this.frame = undefined;
      try {
        this.onFrame(fin, opcode, payload);
      } catch (error) {
        this.protocolError((error as Error).message, CLOSE_PROTOCOL_ERROR);
      }
      return;
    }
    this.readEnd += bytes;
    if (this.handshaking && !this.readHandshake()) return;
    try {
      this.parseFrames();
    } catch (error) {
      this.protocolError((error as Error).message, CLOSE_PROTOCOL_ERROR);
    }
  }

  /** A decrypted TLS chunk, copied where a plain socket would have read it. */
  private onChunk(chunk: Buffer): void {
    for (let at = 0; at < chunk.length && !this.failed;) {
      const target = this.readTarget();
      if (target.length === 0) {
        this.fail(new Error('WebSocket handshake response too large'));
        return;
      }
      const bytes = chunk.copy(target, 0, at);
      at += bytes;
      this.onRead(bytes);
    }
  }

  /** Parses the upgrade response once it is whole; true once the connection is open. */
  private readHandshake(): boolean {
    const received = this.readBuffer.subarray(0, this.readEnd);
    const end = received.indexOf('\r\n\r\n');
    if (end < 0) {
      if (received.length > HANDSHAKE_BYTES_MAX) {
        this.fail(new Error('WebSocket handshake response too large'));
      }
      return false;
    }
    const lines = received.subarray(0, end).toString('latin1').split('\r\n');
    const status = /^HTTP\/1\.1 (\d{3})/.exec(lines[0] ?? '');
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const accept = createHash('sha1')
      .update(this.key + GUID)
      .digest('base64');
    if (status?.[1] !== '101') {
      const error = new Error(`WebSocket upgrade refused: ${lines[0] ?? 'no status line'}`);
      this.fail(error, status ? Number(status[1]) : undefined);
      return false;
    }
    const upgraded = headers.get('upgrade')?.toLowerCase() === 'websocket';
    if (!upgraded || headers.get('sec-websocket-accept') !== accept) {
      this.fail(new Error('WebSocket upgrade response is not a valid handshake'));
      return false;
    }
    if (headers.has('sec-websocket-extensions')) {
      this.fail(new Error('the server negotiated a WebSocket extension this client did not offer'));
      return false;
    }
    this.handshaking = false;
    this.readStart = end + 4;
    this.readyState = NodeWebSocket.OPEN;
    this.onopen?.({ type: 'open' });
    return true;
  }

  /**
   * Parses the frames in the read buffer. A payload wholly in it is copied out; one that is not
   * gets its own buffer, takes what was read of it, and the following reads fill the rest.
   */
  private parseFrames(): void {
    const input = this.readBuffer;
    while (!this.failed && this.readyState !== NodeWebSocket.CLOSED) {
      const available = this.readEnd - this.readStart;
      if (available < 2) return;
      const at = this.readStart;
      const fin = (input[at]! & FIN_BIT) !== 0;
      const opcode = input[at]! & 0x0f;
      if ((input[at]! & RSV_BITS) !== 0) throw new Error('reserved bits set in a server frame');
      if ((input[at + 1]! & MASK_BIT) !== 0) throw new Error('a server frame is masked');
      let length = input[at + 1]! & 0x7f;
      const headerBytes =
        length === LENGTH_16 ? 4 : length === LENGTH_64 ? FRAME_HEADER_BYTES_MAX : 2;
      if (available < headerBytes) return;
      if (length === LENGTH_16) length = input.readUInt16BE(at + 2);
      else if (length === LENGTH_64) {
        length = input.readUInt32BE(at + 2) * 2 ** 32 + input.readUInt32BE(at + 6);
      }
      if (opcode >= OPCODE_CLOSE && (!fin || length > CONTROL_PAYLOAD_BYTES_MAX)) {
        throw new Error('a control frame is fragmented or too long');
      }
      if (opcode === OPCODE_CONTINUATION && !this.assembly) {
        throw new Error('a continuation frame without a message');
      }
      if ((opcode === OPCODE_TEXT || opcode === OPCODE_BINARY) && this.assembly) {
        throw new Error('a new message inside a fragmented one');
      }
      if (opcode < OPCODE_CLOSE && this.assemblyBytes + length > this.messageBytesMax) {
        this.protocolError(`message larger than ${this.messageBytesMax} bytes`, CLOSE_TOO_BIG);
        return;
      }
      const payloadAt = at + headerBytes;
      const inHand = Math.min(length, this.readEnd - payloadAt);
      // A continuation lands in place in its message's buffer. Any other payload is exactly
      // sized (not a slice of Node's pool) when large: delivered as an ArrayBuffer whole.
      const payload =
        opcode === OPCODE_CONTINUATION
          ? this.assemblySpace(length)
          : length < FRAME_POOL_BYTES_MIN
            ? Buffer.allocUnsafe(length)
            : Buffer.allocUnsafeSlow(length);
      input.copy(payload, 0, payloadAt, payloadAt + inHand);
      this.readStart = payloadAt + inHand;
      if (inHand < length) {
        this.frame = { fin, opcode, payload, filled: inHand };
        return;
      }
      this.onFrame(fin, opcode, payload);
    }
  }

  private onFrame(fin: boolean, opcode: number, payload: Buffer): void {
    switch (opcode) {
      case OPCODE_PING:
        if (this.readyState === NodeWebSocket.OPEN) this.writeFrame(OPCODE_PONG, [payload]);
        return;
      case OPCODE_PONG:
        return;
      case OPCODE_CLOSE:
        this.onCloseFrame(payload);
        return;
      case OPCODE_CONTINUATION: {
        // The payload was read into place (assemblySpace).
        this.assemblyBytes += payload.length;
        if (!fin) return;
        const message = this.assembledMessage();
        if (this.readyState === NodeWebSocket.OPEN) this.deliver(this.assemblyOpcode, message);
        return;
      }
      case OPCODE_TEXT:
      case OPCODE_BINARY:
        if (!fin) {
          this.startAssembly(opcode, payload);
          return;
        }
        if (this.readyState === NodeWebSocket.OPEN) this.deliver(opcode, payload);
        return;
      default:
        throw new Error(`unknown WebSocket opcode ${opcode}`);
    }
  }

  /** Starts reassembling a fragmented message from its first fragment. */
  private startAssembly(opcode: number, first: Buffer): void {
    this.assembly = Buffer.allocUnsafeSlow(
      Math.min(this.messageBytesMax, Math.max(2 * first.length, ASSEMBLY_BYTES_MIN)),
    );
    first.copy(this.assembly);
    this.assemblyBytes = first.length;
    this.assemblyOpcode = opcode;
  }

  /** Where the next `bytes` of the message being reassembled go, growing its buffer if need be. */
  private assemblySpace(bytes: number): Buffer {
    let assembly = this.assembly!;
    const needed = this.assemblyBytes + bytes;
    if (needed > assembly.length) {
      // Doubling keeps the copies of a message of many fragments under its own size.
      const grown = Buffer.allocUnsafeSlow(
        Math.max(needed, Math.min(2 * assembly.length, this.messageBytesMax)),
      );
      assembly.copy(grown, 0, 0, this.assemblyBytes);
      this.assembly = assembly = grown;
    }
    return assembly.subarray(this.assemblyBytes, needed);
  }

  /** The reassembled message, and the way cleared for the next. */
  private assembledMessage(): Uint8Array {
    const assembly = this.assembly!;
    const bytes = this.assemblyBytes;
    this.assembly = undefined;
    this.assemblyBytes = 0;
    return bytes === assembly.length ? assembly : assembly.subarray(0, bytes);
  }

  private deliver(opcode: number, message: Uint8Array): void {
    let data: ArrayBuffer | Uint8Array | string;
    if (opcode === OPCODE_TEXT) {
      data = textDecoder.decode(message);
    } else if (this.binaryType === 'uint8array') {
      data = message;
    } else if (message.byteOffset === 0 && message.byteLength === message.buffer.byteLength) {
      data = message.buffer as ArrayBuffer;
    } else {
      const end = message.byteOffset + message.byteLength;
      data = message.buffer.slice(message.byteOffset, end) as ArrayBuffer;
    }
    try {
      this.onmessage?.({ type: 'message', data });
    } catch (error) {
      // A handler's failure is its own, not the connection's: report it as uncaught.
      queueMicrotask(() => {
        throw error;
      });
    }
  }

  private onCloseFrame(payload: Buffer): void {
    this.closeReceived = true;
    this.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : CLOSE_NO_STATUS;
    this.closeReason = payload.length > 2 ? payload.toString('utf8', 2) : '';
    if (this.readyState === NodeWebSocket.OPEN) {
      this.readyState = NodeWebSocket.CLOSING;
      this.sendClose(this.closeCode === CLOSE_NO_STATUS ? CLOSE_NORMAL : this.closeCode, '');
    }
    this.socket.end();
  }

  private protocolError(message: string, code: number): void {
    this.failed = true;
    this.frame = undefined;
    this.readStart = this.readEnd = 0;
    this.onerror?.({ type: 'error', error: new Error(message), message });
    if (this.readyState === NodeWebSocket.OPEN) {
      this.readyState = NodeWebSocket.CLOSING;
      this.sendClose(code, message);
    }
    this.closeCode = code;
    this.closeReason = message;
    this.socket.end();
    this.closeTimer = setTimeout(() => this.socket.destroy(), CLOSE_TIMEOUT_MS);
    this.closeTimer.unref?.();
  }

  private fail(error: Error, status?: number): void {
    const event: ErrorEventLike = { type: 'error', error, message: error.message };
    if (status !== undefined) event.status = status;
    this.onerror?.(event);
    this.socket.destroy();
  }

  private emitClose(): void {
    if (this.closedEmitted) return;
    this.closedEmitted = true;
    clearTimeout(this.closeTimer);
    this.readyState = NodeWebSocket.CLOSED;
    const wasClean = this.closeReceived && this.closeSent;
    this.onclose?.({
      type: 'close',
      code: this.closeCode,
      reason: this.closeReason,
      wasClean,
    });
  }
}
