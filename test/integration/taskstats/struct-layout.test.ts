/**
 * Our struct taskstats offsets and netlink constants against the C compiler's view of the kernel
 * headers: a small C program prints offsetof() of every field we decode, sizeof the headers, and
 * the enum values we hard-code.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import * as client from '../../../src/taskstats/client.js';
import * as genl from '../../../src/taskstats/genetlink.js';
import { TASKSTATS_FIELDS, TASKSTATS_MIN_SIZE, TASKSTATS_V13_SIZE, TS_COMM_LEN } from '../../../src/taskstats/taskstats-struct.js';

const HEADERS = ['/usr/include/linux/taskstats.h', '/usr/include/linux/genetlink.h', '/usr/include/linux/netlink.h'];

function findCc(): string | undefined {
  for (const cc of ['/usr/bin/cc', '/usr/bin/gcc', '/usr/bin/clang']) if (existsSync(cc)) return cc;
  return undefined;
}

const cc = findCc();
const missing = HEADERS.find((h) => !existsSync(h));
const skip = !cc ? 'no C compiler (cc/gcc/clang)' : missing ? `${missing} missing (install linux-libc-dev)` : false;
if (skip) console.log(`# skipped: ${skip}`);

/** name -> value printed by a C program for each `printf` line we generate */
function runC(body: string): Map<string, number> {
  const dir = mkdtempSync(path.join(tmpdir(), 'taskstats-layout-'));
  try {
    const src = path.join(dir, 'layout.c');
    writeFileSync(
      src,
      `#include <linux/taskstats.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <stddef.h>
#include <stdio.h>
#define FIELD(f) printf(#f " %zu %zu\\n", offsetof(struct taskstats, f), sizeof(((struct taskstats *)0)->f))
#define VALUE(name, v) printf("%s %ld 0\\n", name, (long)(v))
int main(void) {
${body}
  return 0;
}
`,
    );
    const bin = path.join(dir, 'layout');
    execFileSync(cc as string, ['-o', bin, src]);
    const out = new Map<string, number>();
    for (const line of execFileSync(bin, { encoding: 'utf8' }).trim().split('\n')) {
      const [name, a, b] = line.split(' ');
      out.set(name as string, Number(a));
      if (Number(b)) out.set(`${name}.size`, Number(b));
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('every struct taskstats field we decode sits at the offset and size of linux/taskstats.h', { skip }, () => {
  const c = runC(
    Object.keys(TASKSTATS_FIELDS)
      .map((f) => `  FIELD(${f});`)
      .concat(['  VALUE("sizeof", sizeof(struct taskstats));', '  VALUE("header_version", TASKSTATS_VERSION);', '  VALUE("comm_len", TS_COMM_LEN);'])
      .join('\n'),
  );
  for (const [field, [offset, size]] of Object.entries(TASKSTATS_FIELDS)) {
    assert.equal(offset, c.get(field), `${field} offset`);
    assert.equal(size, c.get(`${field}.size`), `${field} size`);
  }
  assert.equal(TS_COMM_LEN, c.get('comm_len'));
  // a header of version 13 has exactly our size; a newer one only appends
  const sizeofHeader = c.get('sizeof') as number;
  if (c.get('header_version') === 13) assert.equal(sizeofHeader, TASKSTATS_V13_SIZE);
  assert.ok(sizeofHeader >= TASKSTATS_V13_SIZE && TASKSTATS_MIN_SIZE < TASKSTATS_V13_SIZE);
});

test('netlink, generic netlink and taskstats constants match the headers', { skip }, () => {
  const ours: Record<string, number> = {
    NLMSG_HDRLEN: genl.NLMSG_HDRLEN,
    GENL_HDRLEN: genl.GENL_HDRLEN,
    NLA_HDRLEN: genl.NLA_HDRLEN,
    NLMSG_ERROR: genl.NLMSG_ERROR,
    NLMSG_DONE: genl.NLMSG_DONE,
    NLM_F_REQUEST: genl.NLM_F_REQUEST,
    NLM_F_ACK: genl.NLM_F_ACK,
    GENL_ID_CTRL: genl.GENL_ID_CTRL,
    CTRL_CMD_GETFAMILY: genl.CTRL_CMD_GETFAMILY,
    CTRL_ATTR_FAMILY_ID: genl.CTRL_ATTR_FAMILY_ID,
    CTRL_ATTR_FAMILY_NAME: genl.CTRL_ATTR_FAMILY_NAME,
    CTRL_ATTR_VERSION: genl.CTRL_ATTR_VERSION,
    CTRL_ATTR_MAXATTR: genl.CTRL_ATTR_MAXATTR,
    TASKSTATS_GENL_VERSION: client.TASKSTATS_GENL_VERSION,
    TASKSTATS_CMD_GET: client.TASKSTATS_CMD_GET,
    TASKSTATS_CMD_NEW: client.TASKSTATS_CMD_NEW,
    TASKSTATS_TYPE_PID: client.TASKSTATS_TYPE_PID,
    TASKSTATS_TYPE_TGID: client.TASKSTATS_TYPE_TGID,
    TASKSTATS_TYPE_STATS: client.TASKSTATS_TYPE_STATS,
    TASKSTATS_TYPE_AGGR_PID: client.TASKSTATS_TYPE_AGGR_PID,
    TASKSTATS_TYPE_AGGR_TGID: client.TASKSTATS_TYPE_AGGR_TGID,
    TASKSTATS_TYPE_NULL: client.TASKSTATS_TYPE_NULL,
    TASKSTATS_CMD_ATTR_PID: client.TASKSTATS_CMD_ATTR_PID,
    TASKSTATS_CMD_ATTR_TGID: client.TASKSTATS_CMD_ATTR_TGID,
    TASKSTATS_CMD_ATTR_REGISTER_CPUMASK: client.TASKSTATS_CMD_ATTR_REGISTER_CPUMASK,
    TASKSTATS_CMD_ATTR_DEREGISTER_CPUMASK: client.TASKSTATS_CMD_ATTR_DEREGISTER_CPUMASK,
  };
  const c = runC(
    Object.keys(ours)
      .map((name) => `  VALUE("${name}", ${name});`)
      .join('\n'),
  );
  for (const [name, value] of Object.entries(ours)) assert.equal(value, c.get(name), name);
  assert.equal(client.TASKSTATS_GENL_NAME, 'TASKSTATS');
  assert.equal(genl.U32_REQUEST_SIZE, 28, 'NLMSG_LENGTH(GENL_HDRLEN) + NLA_ALIGN(NLA_HDRLEN + 4)');
});
