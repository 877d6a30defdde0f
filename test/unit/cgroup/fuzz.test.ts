/**
 * Property tests for every parser in src/cgroup/: random bytes, real files (live /proc, the live
 * cgroup2 hierarchy, fixtures from real machines) truncated, mutated and with huge numbers give a
 * typed result or a ParseError.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseContainerCgroup } from '../../../src/cgroup/container-id.js';
import {
  type ContainerNames,
  namesFromKubernetesKeys,
  parseContainerLogName,
  parseDockerConfigNames,
  parseOciConfigNames,
  parsePodLogTarget,
} from '../../../src/cgroup/container-names.js';
import { findCgroup2Mount, parseMountInfo } from '../../../src/cgroup/mountinfo.js';
import { parsePressure } from '../../../src/cgroup/pressure.js';
import { ParseError } from '../../../src/errors.js';
import { fixtureDir } from '../../helpers/fixtures.js';
import { finite, fixtureFiles, fuzzParser, readReal } from '../../helpers/parser-fuzz.js';

const dir = `${fixtureDir}/cgroup`;
const mountinfo = readReal(['/proc/self/mountinfo', '/proc/1/mountinfo']);
const cgroup2 = findCgroup2Mount(parseMountInfo(mountinfo[0]?.toString('utf8') ?? ''))?.mountPoint;

test('mountinfo', () => {
  fuzzParser({
    name: 'parseMountInfo',
    parse: (b) => parseMountInfo(b.toString('utf8'), 'mountinfo'),
    errors: [ParseError],
    samples: [...mountinfo, ...fixtureFiles(`${dir}/mountinfo`)],
    valid: (r) => {
      assert.ok(Array.isArray(r));
      for (const m of r as ReturnType<typeof parseMountInfo>) {
        assert.ok(Number.isSafeInteger(m.mountId) && Number.isSafeInteger(m.parentId), `${m.mountId} ${m.parentId}`);
        for (const s of [m.device, m.root, m.mountPoint, m.mountOptions, m.fsType, m.source, m.superOptions]) assert.equal(typeof s, 'string');
        assert.ok(m.optionalFields.every((f) => typeof f === 'string'));
      }
    },
  });
});

test('pressure files', () => {
  const live = readReal(['/proc/pressure/cpu', '/proc/pressure/memory', '/proc/pressure/io', '/proc/pressure/irq']);
  if (cgroup2) live.push(...readReal([`${cgroup2}/cpu.pressure`, `${cgroup2}/memory.pressure`, `${cgroup2}/io.pressure`]));
  fuzzParser({
    name: 'parsePressure',
    parse: (b) => parsePressure(b.toString('utf8'), 'cpu.pressure'),
    errors: [ParseError],
    samples: [...live, ...fixtureFiles(`${dir}/pressure`)],
    valid: (r) => {
      const p = r as ReturnType<typeof parsePressure>;
      for (const line of [p.some, p.full]) {
        if (line === undefined) continue;
        finite(line.avg10Percent, line.avg60Percent, line.avg300Percent, line.totalMicroseconds);
        assert.ok(line.totalMicroseconds >= 0);
      }
    },
  });
});

const QOS = ['guaranteed', 'burstable', 'besteffort'];
const RUNTIMES = ['crio', 'containerd', 'docker', 'unknown'];

test('container identity from cgroup paths', () => {
  const livePaths = readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .slice(0, 200)
    .flatMap((d) => readReal([`/proc/${d}/cgroup`]));
  fuzzParser({
    name: 'parseContainerCgroup',
    parse: (b) => parseContainerCgroup(b.toString('utf8')),
    errors: [],
    samples: [
      ...livePaths,
      ...fixtureFiles(`${fixtureDir}/procfs/pid-cgroup`),
      Buffer.from('/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0f1a2b3c_4d5e_6f70_8192_a3b4c5d6e7f8.slice/crio-' + 'ab'.repeat(32) + '.scope'),
      Buffer.from('/kubepods/besteffort/pod0f1a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8/' + 'cd'.repeat(32)),
    ],
    valid: (r) => {
      if (r === undefined) return;
      const c = r as NonNullable<ReturnType<typeof parseContainerCgroup>>;
      assert.equal(typeof c.podUid, 'string');
      assert.ok(QOS.includes(c.qos) && RUNTIMES.includes(c.runtime));
      assert.ok(c.containerId === undefined || /^[0-9a-f]{64}$/.test(c.containerId));
    },
  });
  // long hostile paths stay cheap: every regex here is anchored per path component
  const longest = 'kubepods-'.repeat(500) + '-pod' + 'a_'.repeat(2000);
  const t0 = process.hrtime.bigint();
  parseContainerCgroup(`/${longest}/${longest}`);
  assert.ok(process.hrtime.bigint() - t0 < 2_000_000_000n, 'a 20 kB path took over 2 s');
});

function validNames(r: unknown): void {
  const n = r as ContainerNames;
  for (const k of ['namespace', 'pod', 'container', 'podUid'] as const) assert.ok(n[k] === undefined || typeof n[k] === 'string', k);
}

test('OCI config.json and docker config.v2.json names', () => {
  for (const [name, parse] of [['parseOciConfigNames', parseOciConfigNames], ['parseDockerConfigNames', parseDockerConfigNames]] as const) {
    fuzzParser({
      name,
      parse: (b) => parse(b.toString('utf8'), 'config.json'),
      errors: [ParseError],
      samples: fixtureFiles(`${dir}/containers`, name === 'parseOciConfigNames' ? 'c' : 'docker'),
      valid: validNames,
    });
  }
  // deep nesting and odd shapes where the names sit
  for (const text of ['['.repeat(100_000), `{"annotations":${'['.repeat(5000)}${']'.repeat(5000)}}`, '{"Config":{"Labels":[1,2]}}', '{"annotations":{"io.kubernetes.pod.name":7}}', 'null', '"x"']) {
    for (const parse of [parseOciConfigNames, parseDockerConfigNames]) {
      try {
        validNames(parse(text, 'config.json'));
      } catch (err) {
        assert.ok(err instanceof ParseError, `${String(err)} for ${text.slice(0, 40)}`);
      }
    }
  }
  fc.assert(
    fc.property(fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.object())), (map) => validNames(namesFromKubernetesKeys(map))),
    { numRuns: 1000 },
  );
});

test('kubelet log link names and targets', () => {
  const id = 'ab'.repeat(32);
  fuzzParser({
    name: 'parseContainerLogName',
    parse: (b) => parseContainerLogName(b.toString('utf8')),
    errors: [],
    samples: [Buffer.from(`coredns-5d78c9869d-x7k2p_kube-system_coredns-${id}.log`)],
    valid: (r) => {
      if (r === undefined) return;
      const n = r as NonNullable<ReturnType<typeof parseContainerLogName>>;
      for (const s of [n.pod, n.namespace, n.container]) assert.ok(typeof s === 'string' && s !== '' && !s.includes('_') && !s.includes('/'));
      assert.match(n.containerId, /^[0-9a-f]{64}$/);
    },
  });
  fuzzParser({
    name: 'parsePodLogTarget',
    parse: (b) => parsePodLogTarget(b.toString('utf8')),
    errors: [],
    samples: [Buffer.from('/var/log/pods/kube-system_coredns-5d78c9869d-x7k2p_0f1a2b3c-4d5e-6f70-8192-a3b4c5d6e7f8/coredns/0.log')],
    valid: (r) => {
      if (r === undefined) return;
      const t = r as NonNullable<ReturnType<typeof parsePodLogTarget>>;
      for (const s of [t.namespace, t.pod, t.podUid]) assert.ok(typeof s === 'string' && s !== '');
    },
  });
  // a PATH_MAX-long target without a match stays cheap
  const t0 = process.hrtime.bigint();
  parsePodLogTarget(`/${'a_b_c'.repeat(820)}`);
  assert.ok(process.hrtime.bigint() - t0 < 2_000_000_000n, 'a 4 kB link target took over 2 s');
});
