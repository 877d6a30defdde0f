/**
 * Our perf_event_attr bytes against the C compiler's layout of the kernel header: a small C program
 * fills the same fields through struct perf_event_attr and prints the bytes.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { COUNTING_READ_FORMAT, PERF_ATTR_SIZE, PerfType, encodeAttr } from '../../../src/perf/attr.js';

const HEADER = '/usr/include/linux/perf_event.h';

function findCc(): string | undefined {
  for (const cc of ['/usr/bin/cc', '/usr/bin/gcc', '/usr/bin/clang']) if (existsSync(cc)) return cc;
  return undefined;
}

const cc = findCc();
const skip = !cc ? 'no C compiler (cc/gcc/clang)' : !existsSync(HEADER) ? `${HEADER} missing (install linux-libc-dev)` : false;
if (skip) console.log(`# skipped: ${skip}`);

test('encodeAttr matches struct perf_event_attr from linux/perf_event.h', { skip }, () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'perf-attr-'));
  try {
    const src = path.join(dir, 'attr.c');
    writeFileSync(src, `
#include <linux/perf_event.h>
#include <stdio.h>
#include <string.h>
int main(void) {
  struct perf_event_attr a;
  memset(&a, 0, sizeof a);
  a.type = PERF_TYPE_HW_CACHE;
  a.size = PERF_ATTR_SIZE_VER7;
  a.config = PERF_COUNT_HW_CACHE_LL | (PERF_COUNT_HW_CACHE_OP_WRITE << 8) | (PERF_COUNT_HW_CACHE_RESULT_MISS << 16);
  a.read_format = PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING;
  a.disabled = 1;
  a.inherit = 1;
  a.exclude_kernel = 1;
  a.exclude_hv = 1;
  a.inherit_stat = 1;
  a.inherit_thread = 1;
  printf("%zu\\n", sizeof a);
  const unsigned char *p = (const unsigned char *)&a;
  for (unsigned i = 0; i < PERF_ATTR_SIZE_VER7; i++) printf("%02x", p[i]);
  printf("\\n");
  return 0;
}
`);
    const bin = path.join(dir, 'attr');
    execFileSync(cc as string, ['-o', bin, src]);
    const [size, hex] = execFileSync(bin, { encoding: 'utf8' }).trim().split('\n');
    assert.ok(Number(size) >= PERF_ATTR_SIZE, `the header's struct (${size} bytes) holds at least VER7`);
    const ours = encodeAttr({
      type: PerfType.HW_CACHE,
      config: 2n | (1n << 8n) | (1n << 16n),
      readFormat: COUNTING_READ_FORMAT,
      flags: { disabled: true, inherit: true, excludeKernel: true, excludeHv: true, inheritStat: true, inheritThread: true },
    });
    assert.equal(ours.toString('hex'), hex);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
