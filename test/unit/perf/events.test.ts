import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_EVENTS, PERF_EVENTS, TIME_PSEUDO_EVENTS, eventNamesOfKind, findEvent } from '../../../src/perf/events.js';

// the seed's lists (perf-utils v0.4.0 labels), without TimeEnabled/TimeRunning
const SEED_HW = 'CPUCycles,Instructions,CacheRefs,CacheMisses,BranchInstr,BranchMisses,BusCycles,StalledCyclesFrontend,StalledCyclesBackend,RefCPUCycles';
const SEED_SW = 'CPUClock,TaskClock,PageFaults,ContextSwitches,CPUMigrations,MinorPageFaults,MajorPageFaults,AlignmentFaults,EmulationFaults';
const SEED_CACHE = 'L1DataReadHit,L1DataReadMiss,L1DataWriteHit,L1InstrReadMiss,LastLevelReadHit,LastLevelReadMiss,LastLevelWriteHit,' +
  'LastLevelWriteMiss,DataTLBReadHit,DataTLBReadMiss,DataTLBWriteHit,DataTLBWriteMiss,InstrTLBReadHit,InstrTLBReadMiss,BPUReadHit,' +
  'BPUReadMiss,NodeReadHit,NodeReadMiss,NodeWriteHit,NodeWriteMiss';

test('the catalog holds exactly the seed\'s events, by kind', () => {
  assert.deepEqual(eventNamesOfKind('hardware'), SEED_HW.split(','));
  assert.deepEqual(eventNamesOfKind('software'), SEED_SW.split(','));
  assert.deepEqual(eventNamesOfKind('cache'), SEED_CACHE.split(','));
  assert.deepEqual(TIME_PSEUDO_EVENTS, ['TimeEnabled', 'TimeRunning']);
});

test('(type, config) match linux/perf_event.h', () => {
  const tc = (name: string) => {
    const e = findEvent(name);
    assert.ok(e, name);
    return [e.type, e.config];
  };
  assert.deepEqual(tc('CPUCycles'), [0, 0n]);
  assert.deepEqual(tc('Instructions'), [0, 1n]);
  assert.deepEqual(tc('RefCPUCycles'), [0, 9n]);
  assert.deepEqual(tc('CPUClock'), [1, 0n]);
  assert.deepEqual(tc('TaskClock'), [1, 1n]);
  assert.deepEqual(tc('ContextSwitches'), [1, 3n]);
  assert.deepEqual(tc('MajorPageFaults'), [1, 6n]);
  assert.deepEqual(tc('EmulationFaults'), [1, 8n]);
  // HW_CACHE: cache | op << 8 | result << 16
  assert.deepEqual(tc('L1DataReadHit'), [3, 0x000000n]);
  assert.deepEqual(tc('L1DataReadMiss'), [3, 0x010000n]);
  assert.deepEqual(tc('L1DataWriteHit'), [3, 0x000100n]);
  assert.deepEqual(tc('L1InstrReadMiss'), [3, 0x010001n]);
  assert.deepEqual(tc('LastLevelWriteMiss'), [3, 0x010102n]);
  assert.deepEqual(tc('DataTLBReadMiss'), [3, 0x010003n]);
  assert.deepEqual(tc('InstrTLBReadHit'), [3, 0x000004n]);
  assert.deepEqual(tc('BPUReadMiss'), [3, 0x010005n]);
  assert.deepEqual(tc('NodeWriteMiss'), [3, 0x010106n]);
});

test('metric names are namedprocess_namegroup_perf_<snake>_total, time events in seconds', () => {
  const snake = (name: string) => name
    .replace(/TLB/g, 'Tlb').replace(/BPU/g, 'Bpu').replace(/CPU/g, 'Cpu').replace(/L1/g, 'L1_')
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/__/g, '_').toLowerCase();
  for (const e of PERF_EVENTS) {
    const unit = e.nanoseconds ? '_seconds' : '';
    assert.equal(e.metric, `namedprocess_namegroup_perf_${snake(e.name)}${unit}_total`, e.name);
    assert.match(e.metric, /^[a-z_][a-z0-9_]*$/);
  }
  assert.equal(findEvent('TaskClock')?.metric, 'namedprocess_namegroup_perf_task_clock_seconds_total');
  assert.equal(findEvent('CPUClock')?.metric, 'namedprocess_namegroup_perf_cpu_clock_seconds_total');
  assert.equal(findEvent('Instructions')?.metric, 'namedprocess_namegroup_perf_instructions_total');
  assert.equal(findEvent('L1DataReadHit')?.metric, 'namedprocess_namegroup_perf_l1_data_read_hit_total');
  assert.deepEqual(PERF_EVENTS.filter((e) => e.nanoseconds).map((e) => e.name), ['CPUClock', 'TaskClock']);
  assert.equal(new Set(PERF_EVENTS.map((e) => e.metric)).size, PERF_EVENTS.length);
});

test('names are found case-insensitively; unknown names are not', () => {
  assert.equal(findEvent('taskclock')?.name, 'TaskClock');
  assert.equal(findEvent(' INSTRUCTIONS ')?.name, 'Instructions');
  assert.equal(findEvent('TimeEnabled'), undefined);
  assert.equal(findEvent('Instrctions'), undefined);
  for (const name of DEFAULT_EVENTS) assert.ok(findEvent(name), name);
});
