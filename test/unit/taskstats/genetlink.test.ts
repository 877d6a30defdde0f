import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  NLMSG_ERROR,
  NLM_F_REQUEST,
  U32_REQUEST_SIZE,
  attrData,
  attrLength,
  attrString,
  attrType,
  errorCode,
  errorSeq,
  findAttr,
  genlAttrs,
  genlCmd,
  msgSeq,
  msgType,
  nextAttr,
  nextMessage,
  putStringRequest,
  putU32Request,
  stringRequestSize,
} from '../../../src/taskstats/genetlink.js';

test('a u32 request is nlmsghdr + genlmsghdr + one 8-byte attribute, little-endian', () => {
  const buf = Buffer.alloc(64, 0xee);
  const end = putU32Request(buf, 4, { family: 31, cmd: 1, version: 1, seq: 0x01020304 }, 2, 4242);
  assert.equal(end, 4 + U32_REQUEST_SIZE);
  assert.equal(
    buf.subarray(4, end).toString('hex'),
    [
      '1c000000', // nlmsg_len 28
      '1f00', // nlmsg_type = family 31
      '0100', // NLM_F_REQUEST
      '04030201', // seq
      '00000000', // port id: the kernel's
      '01', '01', '0000', // genl cmd, version, reserved
      '0800', '0200', // nla_len 8, nla_type 2
      '92100000', // 4242
    ].join(''),
  );
  assert.equal(buf[3], 0xee, 'bytes before the message untouched');
  assert.equal(buf[end], 0xee, 'bytes after the message untouched');
  assert.equal(msgType(buf, 4), 31);
  assert.equal(msgSeq(buf, 4), 0x01020304);
  assert.equal(genlCmd(buf, 4), 1);
  assert.equal(NLM_F_REQUEST, 1);
});

test('a string attribute is NUL-terminated and the message padded to 4 bytes', () => {
  // "TASKSTATS" = 9 bytes + NUL = 10; attribute 14, padded 16; message 16 + 4 + 16 = 36
  assert.equal(stringRequestSize('TASKSTATS'), 36);
  const buf = Buffer.alloc(40, 0xee);
  const end = putStringRequest(buf, 0, { family: 0x10, cmd: 3, version: 1, seq: 7 }, 2, 'TASKSTATS');
  assert.equal(end, 36);
  assert.equal(buf.readUInt32LE(0), 36);
  const a = genlAttrs(0);
  assert.equal(buf.readUInt16LE(a), 14, 'nla_len counts the NUL, not the padding');
  assert.equal(attrType(buf, a), 2);
  assert.equal(attrString(buf, a), 'TASKSTATS');
  assert.deepEqual([...buf.subarray(a + 14, a + 16)], [0, 0], 'padding zeroed');
  assert.equal(buf[36], 0xee);
});

test('messages and attributes are walked by their aligned lengths; overruns throw', () => {
  const buf = Buffer.alloc(2 * U32_REQUEST_SIZE);
  putU32Request(buf, 0, { family: 20, cmd: 1, version: 1, seq: 1 }, 1, 10);
  putU32Request(buf, U32_REQUEST_SIZE, { family: 20, cmd: 1, version: 1, seq: 2 }, 2, 20);
  const seqs: number[] = [];
  for (let m = 0; m < buf.length; m = nextMessage(buf, m, buf.length)) seqs.push(msgSeq(buf, m));
  assert.deepEqual(seqs, [1, 2]);
  const a = findAttr(buf, genlAttrs(U32_REQUEST_SIZE), buf.length, 2);
  assert.equal(buf.readUInt32LE(attrData(a)), 20);
  assert.equal(attrLength(buf, a), 4);
  assert.equal(findAttr(buf, genlAttrs(0), U32_REQUEST_SIZE, 3), -1);
  buf.writeUInt32LE(1000, 0);
  assert.throws(() => nextMessage(buf, 0, buf.length), RangeError);
  buf.writeUInt32LE(U32_REQUEST_SIZE, 0);
  buf.writeUInt16LE(2, genlAttrs(0));
  assert.throws(() => nextAttr(buf, genlAttrs(0), U32_REQUEST_SIZE), RangeError, 'nla_len below the header');
});

test('NLMSG_ERROR carries -errno and the failed request header', () => {
  // struct nlmsgerr { int error; struct nlmsghdr msg; } as the kernel sends for ESRCH (3)
  const buf = Buffer.alloc(36);
  buf.writeUInt32LE(36, 0);
  buf.writeUInt16LE(NLMSG_ERROR, 4);
  buf.writeUInt32LE(99, 8);
  buf.writeInt32LE(-3, 16);
  buf.writeUInt32LE(28, 20);
  buf.writeUInt32LE(1234, 28);
  assert.equal(errorCode(buf, 0), 3);
  assert.equal(errorSeq(buf, 0), 1234);
});
