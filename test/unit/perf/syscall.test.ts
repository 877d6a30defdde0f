import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ExporterError, ProcessGoneError, isProcessGone } from '../../../src/errors.js';
import { PERF_EVENT_IOC_DISABLE, PERF_EVENT_IOC_ENABLE, PERF_EVENT_IOC_RESET, PerfError, PerfFlag, perfOpenError } from '../../../src/perf/syscall.js';

test('perf_event_open errnos map to stable codes', () => {
  const code = (errno: string) => {
    const err = perfOpenError(errno, 'pid 42');
    assert.ok(err instanceof ExporterError);
    return err.code;
  };
  for (const errno of ['ENOENT', 'EOPNOTSUPP', 'EINVAL', 'E2BIG', 'ENODEV']) assert.equal(code(errno), 'PERF_EVENT_UNSUPPORTED', errno);
  assert.equal(code('EACCES'), 'PERMISSION_DENIED');
  assert.equal(code('EPERM'), 'PERMISSION_DENIED');
  assert.equal(code('EMFILE'), 'PERF_FD_LIMIT');
  assert.equal(code('ENFILE'), 'PERF_FD_LIMIT');
  assert.equal(code('ENOSYS'), 'PERF_UNAVAILABLE');
});

test('ESRCH is "process gone"; ENOENT (event unknown) is not', () => {
  const gone = perfOpenError('ESRCH', 'pid 42');
  assert.ok(gone instanceof ProcessGoneError);
  assert.ok(isProcessGone(gone));
  const unsupported = perfOpenError('ENOENT', 'pid 42');
  assert.ok(unsupported instanceof PerfError);
  assert.equal(unsupported.errno, 'ENOENT');
  assert.equal(isProcessGone(unsupported), false);
  assert.equal(unsupported.message, 'perf_event_open: ENOENT (pid 42)');
});

test('ioctl numbers and flags of linux/perf_event.h (_IO(\'$\', n))', { skip: process.arch.startsWith('ppc') && 'powerpc encodes _IO differently' }, () => {
  assert.equal(PERF_EVENT_IOC_ENABLE, 0x2400);
  assert.equal(PERF_EVENT_IOC_DISABLE, 0x2401);
  assert.equal(PERF_EVENT_IOC_RESET, 0x2403);
  assert.equal(PerfFlag.PID_CGROUP, 4);
  assert.equal(PerfFlag.FD_CLOEXEC, 8);
});
