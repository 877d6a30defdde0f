/**
 * Generic netlink messages (include/uapi/linux/netlink.h, genetlink.h), encoded into and read from
 * caller-owned buffers by offset: pure, no I/O, no allocation per message.
 *
 *   struct nlmsghdr  { __u32 nlmsg_len; __u16 nlmsg_type; __u16 nlmsg_flags; __u32 nlmsg_seq; __u32 nlmsg_pid; }  16 bytes
 *   struct genlmsghdr { __u8 cmd; __u8 version; __u16 reserved; }                                                   4 bytes
 *   struct nlattr     { __u16 nla_len; __u16 nla_type; }  followed by nla_len - 4 bytes of payload    4 bytes
 *   struct nlmsgerr   { int error; struct nlmsghdr msg; ... }   payload of NLMSG_ERROR (error = -errno, 0 = ack)
 *
 * Messages and attributes start on 4-byte boundaries (NLMSG_ALIGN, NLA_ALIGN). Several messages may
 * share one datagram and one send(); each reply names its request by nlmsg_seq. Integers are in the
 * host's byte order, little-endian on every platform the socket opens on.
 */

export const NLMSG_HDRLEN = 16;
export const GENL_HDRLEN = 4;
export const NLA_HDRLEN = 4;

export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;

export const NLM_F_REQUEST = 0x1;
export const NLM_F_ACK = 0x4;
/** high bit of nla_type: the attribute holds nested attributes */
const NLA_F_NESTED = 0x8000;
const NLA_TYPE_MASK = 0x3fff;

export const GENL_ID_CTRL = 0x10;
export const CTRL_CMD_NEWFAMILY = 1;
export const CTRL_CMD_GETFAMILY = 3;
export const CTRL_ATTR_FAMILY_ID = 1;
export const CTRL_ATTR_FAMILY_NAME = 2;
export const CTRL_ATTR_VERSION = 3;
export const CTRL_ATTR_MAXATTR = 5;
export const CTRL_ATTR_MCAST_GROUPS = 7;
export const CTRL_ATTR_MCAST_GRP_NAME = 1;
export const CTRL_ATTR_MCAST_GRP_ID = 2;

export function align4(n: number): number {
  return (n + 3) & ~3;
}

/** Header of a generic netlink request. */
export interface GenlRequest {
  family: number;
  cmd: number;
  version: number;
  seq: number;
  flags?: number;
}

function putHeader(buf: Buffer, off: number, len: number, req: GenlRequest): void {
  buf.writeUInt32LE(len, off);
  buf.writeUInt16LE(req.family, off + 4);
  buf.writeUInt16LE(req.flags ?? NLM_F_REQUEST, off + 6);
  buf.writeUInt32LE(req.seq >>> 0, off + 8);
  buf.writeUInt32LE(0, off + 12);
  buf[off + 16] = req.cmd;
  buf[off + 17] = req.version;
  buf.writeUInt16LE(0, off + 18);
}

/** Bytes one request with a single u32 attribute takes (header, attribute, padding). */
export const U32_REQUEST_SIZE = NLMSG_HDRLEN + GENL_HDRLEN + NLA_HDRLEN + 4;

/** Writes a request carrying one u32 attribute at `off`; returns the offset after it. */
export function putU32Request(buf: Buffer, off: number, req: GenlRequest, attrType: number, value: number): number {
  putHeader(buf, off, U32_REQUEST_SIZE, req);
  const a = off + NLMSG_HDRLEN + GENL_HDRLEN;
  buf.writeUInt16LE(NLA_HDRLEN + 4, a);
  buf.writeUInt16LE(attrType, a + 2);
  buf.writeUInt32LE(value >>> 0, a + 4);
  return off + U32_REQUEST_SIZE;
}

/** Bytes a request with one NUL-terminated string attribute takes. */
export function stringRequestSize(value: string): number {
  return NLMSG_HDRLEN + GENL_HDRLEN + align4(NLA_HDRLEN + Buffer.byteLength(value) + 1);
}

/** Writes a request carrying one NUL-terminated string attribute at `off`; returns the offset after it. */
export function putStringRequest(buf: Buffer, off: number, req: GenlRequest, attrType: number, value: string): number {
  const size = stringRequestSize(value);
  buf.fill(0, off, off + size);
  putHeader(buf, off, size, req);
  const a = off + NLMSG_HDRLEN + GENL_HDRLEN;
  const n = buf.write(value, a + NLA_HDRLEN, 'utf8');
  buf.writeUInt16LE(NLA_HDRLEN + n + 1, a);
  buf.writeUInt16LE(attrType, a + 2);
  return off + size;
}

// --- reading -------------------------------------------------------------------------------------

export function msgLength(buf: Buffer, off: number): number {
  return buf.readUInt32LE(off);
}
export function msgType(buf: Buffer, off: number): number {
  return buf.readUInt16LE(off + 4);
}
export function msgSeq(buf: Buffer, off: number): number {
  return buf.readUInt32LE(off + 8);
}
export function genlCmd(buf: Buffer, off: number): number {
  return buf[off + NLMSG_HDRLEN] as number;
}

/**
 * Offset of the message after the one at `off`, or `end` when none follows. Throws a RangeError on a
 * length that does not fit the datagram (a truncated or corrupt message).
 */
export function nextMessage(buf: Buffer, off: number, end: number): number {
  const len = msgLength(buf, off);
  if (len < NLMSG_HDRLEN || off + len > end) throw new RangeError(`netlink message of ${len} bytes at ${off} overruns ${end}`);
  return Math.min(off + align4(len), end);
}

/** For an NLMSG_ERROR message: the errno (positive; 0 is an acknowledgement). */
export function errorCode(buf: Buffer, off: number): number {
  return -buf.readInt32LE(off + NLMSG_HDRLEN);
}
/** For an NLMSG_ERROR message: nlmsg_seq of the request it answers. */
export function errorSeq(buf: Buffer, off: number): number {
  return buf.readUInt32LE(off + NLMSG_HDRLEN + 4 + 8);
}

/** Start of the attributes of the generic netlink message at `off`. */
export function genlAttrs(off: number): number {
  return off + NLMSG_HDRLEN + GENL_HDRLEN;
}

export function attrType(buf: Buffer, a: number): number {
  return buf.readUInt16LE(a + 2) & NLA_TYPE_MASK;
}
export function attrIsNested(buf: Buffer, a: number): boolean {
  return (buf.readUInt16LE(a + 2) & NLA_F_NESTED) !== 0;
}
/** payload bytes of the attribute at `a` */
export function attrLength(buf: Buffer, a: number): number {
  return buf.readUInt16LE(a) - NLA_HDRLEN;
}
export function attrData(a: number): number {
  return a + NLA_HDRLEN;
}

/** Offset of the attribute after `a` within [.., end), or `end`; throws a RangeError on a bad length. */
export function nextAttr(buf: Buffer, a: number, end: number): number {
  const len = buf.readUInt16LE(a);
  if (len < NLA_HDRLEN || a + len > end) throw new RangeError(`netlink attribute of ${len} bytes at ${a} overruns ${end}`);
  return Math.min(a + align4(len), end);
}

/** Offset of the first attribute of `type` in [start, end), or -1. */
export function findAttr(buf: Buffer, start: number, end: number, type: number): number {
  for (let a = start; a + NLA_HDRLEN <= end; a = nextAttr(buf, a, end)) {
    if (attrType(buf, a) === type) return a;
  }
  return -1;
}

/** A NUL-terminated string attribute's text (allocates; for cold paths). */
export function attrString(buf: Buffer, a: number): string {
  const start = attrData(a);
  let end = start + attrLength(buf, a);
  while (end > start && buf[end - 1] === 0) end--;
  return buf.toString('utf8', start, end);
}
