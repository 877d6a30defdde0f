import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ExporterError } from '../../../src/errors.js';
import { NetlinkError, netlinkError } from '../../../src/taskstats/netlink-socket.js';

test('netlink errnos map to stable codes', () => {
  const code = (errno: string) => {
    const err = netlinkError('TASKSTATS_CMD_GET', errno, 'pid 42');
    assert.ok(err instanceof NetlinkError && err instanceof ExporterError);
    assert.equal(err.errno, errno);
    return err.code;
  };
  assert.equal(code('EPERM'), 'PERMISSION_DENIED');
  assert.equal(code('EACCES'), 'PERMISSION_DENIED');
  assert.equal(code('ESRCH'), 'PROCESS_GONE');
  for (const errno of ['ENOENT', 'EPROTONOSUPPORT', 'EAFNOSUPPORT', 'ENOSYS', 'EOPNOTSUPP']) assert.equal(code(errno), 'TASKSTATS_UNAVAILABLE', errno);
  assert.equal(code('ENOBUFS'), 'NETLINK_FAILED');
  assert.equal(code('EINVAL'), 'NETLINK_FAILED');
  assert.equal(netlinkError('send(AF_NETLINK)', 'EINVAL', '28 bytes').message, 'send(AF_NETLINK): EINVAL (28 bytes)');
});
