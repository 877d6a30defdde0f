/** The koffi binding against the running kernel: counting, ioctls, errno classification, close-on-exec. */
import assert from 'node:assert/strict';
import { readFileSync, readlinkSync } from 'node:fs';
import { test } from 'node:test';
import { ExporterError, isProcessGone } from '../../../src/errors.js';
import { COUNTING_READ_FORMAT, PerfType, encodeAttr } from '../../../src/perf/attr.js';
import { closeFd, disableCounter, enableCounter, perfEventOpen, readCounter, resetCounter } from '../../../src/perf/syscall.js';

const taskClock = (disabled: boolean) => encodeAttr({ type: PerfType.SOFTWARE, config: 1n, readFormat: COUNTING_READ_FORMAT, flags: { disabled, excludeHv: true } });
const scratch = Buffer.alloc(24);
/** O_CLOEXEC as /proc/<pid>/fdinfo prints flags: octal */
const O_CLOEXEC = 0o2000000;

/** burns `ms` of this process's CPU time (not wall time: the machine may be busy) */
function spin(ms: number): void {
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const end = cpu() + ms;
  while (cpu() < end) {
    // burn
  }
}

test('a disabled counter counts only between ENABLE and DISABLE; RESET zeroes it', () => {
  const fd = perfEventOpen(taskClock(true), 0, -1, -1, 0);
  try {
    spin(20);
    assert.equal(readCounter(fd, scratch).value, 0n, 'disabled at open');
    enableCounter(fd);
    spin(50);
    const on = readCounter(fd, scratch);
    assert.ok(on.value >= 25_000_000n, `~50 ms of task-clock counted, got ${on.value} ns`);
    assert.equal(on.enabled, on.running, 'software counters are never multiplexed');
    disableCounter(fd);
    const off = readCounter(fd, scratch).value;
    spin(30);
    assert.equal(readCounter(fd, scratch).value, off, 'no counting while disabled');
    resetCounter(fd);
    assert.equal(readCounter(fd, scratch).value, 0n);
  } finally {
    closeFd(fd);
  }
});

test('the fd is a close-on-exec perf_event inode, and closing it frees it', () => {
  const fd = perfEventOpen(taskClock(false), 0, -1, -1, 0);
  assert.equal(readlinkSync(`/proc/self/fd/${fd}`), 'anon_inode:[perf_event]');
  const flags = /^flags:\s+(\d+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1] ?? '0';
  assert.ok((parseInt(flags, 8) & O_CLOEXEC) !== 0, `O_CLOEXEC in fdinfo flags ${flags}`);
  closeFd(fd);
  assert.throws(() => readlinkSync(`/proc/self/fd/${fd}`), /ENOENT/);
});

test('a task that does not exist is "process gone"; an unknown event type is "unsupported"', () => {
  assert.throws(() => perfEventOpen(taskClock(false), 0x3fffff, -1, -1, 0), (err: unknown) => isProcessGone(err));
  const bogus = encodeAttr({ type: 0x7fff, config: 0n, readFormat: COUNTING_READ_FORMAT, flags: {} });
  assert.throws(() => perfEventOpen(bogus, 0, -1, -1, 0), (err: unknown) => err instanceof ExporterError && err.code === 'PERF_EVENT_UNSUPPORTED');
});
