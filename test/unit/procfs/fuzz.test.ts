/**
 * Property tests for every parser in src/procfs/: random bytes, real files (live /proc and
 * fixtures) truncated, mutated and with huge numbers give a typed result or a ParseError.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { test } from 'node:test';
import { ParseError } from '../../../src/errors.js';
import { parseKernelPageSize } from '../../../src/procfs/page-size.js';
import { parsePasswd } from '../../../src/procfs/passwd.js';
import { parsePidCgroup } from '../../../src/procfs/pid-cgroup.js';
import { parsePidCmdline } from '../../../src/procfs/pid-cmdline.js';
import { parsePidIo } from '../../../src/procfs/pid-io.js';
import { parsePidLimits } from '../../../src/procfs/pid-limits.js';
import { parsePidSmapsRollup } from '../../../src/procfs/pid-smaps-rollup.js';
import { parsePidStat } from '../../../src/procfs/pid-stat.js';
import { parsePidStatus } from '../../../src/procfs/pid-status.js';
import { parseProcStat } from '../../../src/procfs/proc-stat.js';
import { fixtureDir } from '../../helpers/fixtures.js';
import { assertIgnoresBytesPastLength, finite, fixtureFiles, fuzzParser, readReal } from '../../helpers/parser-fuzz.js';

const fixtures = (prefix: string) => fixtureFiles(`${fixtureDir}/proc`, prefix);
/** a kernel thread: a child of kthreadd (pid 2) */
const kthread = readdirSync('/proc').find((d) => /^\d+$/.test(d) && d !== '2' && readReal([`/proc/${d}/stat`])[0]?.toString().split(') ')[1]?.split(' ')[1] === '2');
const threads = readdirSync('/proc/self/task').map((t) => `/proc/self/task/${t}`);

test('pid stat', () => {
  const samples = [...readReal(['/proc/self/stat', '/proc/1/stat', '/proc/2/stat', `/proc/${kthread}/stat`, ...threads.map((t) => `${t}/stat`)]), ...fixtures('stat-')];
  const parse = (b: Buffer, len = b.length) => parsePidStat(b, len, 'stat');
  fuzzParser({
    name: 'parsePidStat',
    parse: (b) => parse(b),
    errors: [ParseError],
    samples,
    valid: (r) => {
      const s = r as ReturnType<typeof parsePidStat>;
      finite(s.pid, s.ppid, s.minflt, s.cminflt, s.majflt, s.cmajflt, s.utime, s.stime, s.cutime, s.cstime, s.numThreads, s.startTime, s.vsize, s.rss);
      assert.equal(typeof s.comm, 'string');
      assert.equal(s.state.length, 1);
    },
  });
  assertIgnoresBytesPastLength('parsePidStat', parse, samples);
});

test('pid status', () => {
  const samples = [...readReal(['/proc/self/status', '/proc/1/status', '/proc/2/status', ...threads.map((t) => `${t}/status`)]), ...fixtures('status-')];
  fuzzParser({
    name: 'parsePidStatus',
    parse: (b) => parsePidStatus(b, b.length),
    errors: [],
    samples,
    valid: (r) => {
      const s = r as ReturnType<typeof parsePidStatus>;
      finite(s.uid, s.vmSwapBytes, s.voluntaryCtxSwitches, s.nonvoluntaryCtxSwitches);
      assert.ok(Number.isInteger(s.uid) && s.uid >= -1);
    },
  });
  assertIgnoresBytesPastLength('parsePidStatus', parsePidStatus, samples);
});

test('pid io', () => {
  const samples = [...readReal(['/proc/self/io', ...threads.map((t) => `${t}/io`)]), ...fixtures('io')];
  fuzzParser({
    name: 'parsePidIo',
    parse: (b) => parsePidIo(b, b.length),
    errors: [],
    samples,
    valid: (r) => {
      const io = r as ReturnType<typeof parsePidIo>;
      finite(io.rchar, io.wchar, io.readBytes, io.writeBytes);
    },
  });
  assertIgnoresBytesPastLength('parsePidIo', parsePidIo, samples);
});

test('pid smaps_rollup', () => {
  const samples = [...readReal(['/proc/self/smaps_rollup']), ...fixtures('smaps_rollup')];
  fuzzParser({
    name: 'parsePidSmapsRollup',
    parse: (b) => parsePidSmapsRollup(b, b.length),
    errors: [],
    samples,
    valid: (r) => {
      const s = r as ReturnType<typeof parsePidSmapsRollup>;
      finite(s.pssBytes, s.swapPssBytes);
    },
  });
  assertIgnoresBytesPastLength('parsePidSmapsRollup', parsePidSmapsRollup, samples);
});

test('pid cmdline', () => {
  const samples = [...readReal(['/proc/self/cmdline', '/proc/1/cmdline']), ...fixtures('cmdline-')];
  fuzzParser({
    name: 'parsePidCmdline',
    parse: (b) => parsePidCmdline(b, b.length),
    errors: [],
    samples,
    valid: (r) => {
      assert.ok(Array.isArray(r) && r.every((a) => typeof a === 'string'));
    },
  });
  assertIgnoresBytesPastLength('parsePidCmdline', parsePidCmdline, samples);
});

test('pid limits', () => {
  fuzzParser({
    name: 'parsePidLimits',
    parse: (b) => parsePidLimits(b.toString('latin1')),
    errors: [],
    samples: [...readReal(['/proc/self/limits', '/proc/1/limits']), ...fixtures('limits')],
    valid: (r) => {
      const { openFilesSoft } = r as ReturnType<typeof parsePidLimits>;
      assert.ok(openFilesSoft === Infinity || (Number.isInteger(openFilesSoft) && openFilesSoft > 0), String(openFilesSoft));
    },
  });
});

test('pid cgroup', () => {
  fuzzParser({
    name: 'parsePidCgroup',
    parse: (b) => parsePidCgroup(b.toString('utf8')),
    errors: [],
    samples: [...readReal(['/proc/self/cgroup', '/proc/1/cgroup']), ...fixtureFiles(`${fixtureDir}/procfs/pid-cgroup`)],
    valid: (r) => {
      const c = r as ReturnType<typeof parsePidCgroup>;
      for (const l of c.lines) {
        assert.ok(Number.isSafeInteger(l.hierarchyId) && l.hierarchyId >= 0, String(l.hierarchyId));
        assert.ok(l.controllers.every((x) => typeof x === 'string'));
        assert.ok(l.path.startsWith('/'));
        assert.equal(typeof l.deleted, 'boolean');
      }
      assert.ok(c.v2Path === undefined || c.v2Path.startsWith('/'));
    },
  });
});

test('/proc/stat', () => {
  const samples = [...readReal(['/proc/stat']), ...fixtures('proc-stat')];
  fuzzParser({
    name: 'parseProcStat',
    parse: (b) => parseProcStat(b, b.length),
    errors: [ParseError],
    samples,
    valid: (r) => {
      const s = r as ReturnType<typeof parseProcStat>;
      finite(s.user, s.nice, s.system, s.idle, s.iowait, s.irq, s.softirq, s.steal, s.bootTime);
    },
  });
  assertIgnoresBytesPastLength('parseProcStat', parseProcStat, samples);
});

test('/etc/passwd', () => {
  fuzzParser({
    name: 'parsePasswd',
    parse: (b) => parsePasswd(b.toString('utf8')),
    errors: [],
    samples: readReal(['/etc/passwd']),
    valid: (r) => {
      assert.ok(r instanceof Map);
      for (const [uid, name] of r) {
        assert.ok(Number.isInteger(uid), String(uid));
        assert.ok(typeof name === 'string' && name !== '');
      }
    },
  });
});

test('smaps KernelPageSize', () => {
  const smaps = readReal(['/proc/self/smaps'])[0];
  assert.ok(smaps);
  fuzzParser({
    name: 'parseKernelPageSize',
    parse: (b) => parseKernelPageSize(b.toString('utf8')),
    errors: [],
    // the head of the file: the parser needs only the first mapping
    samples: [smaps.subarray(0, 2000)],
    valid: (r) => {
      assert.ok(r === undefined || (Number.isSafeInteger(r) && (r as number) > 0), String(r));
    },
  });
});
