/**
 * Static checks of the Dockerfile against the repository: no image can be built here (no container
 * daemon, no registry access), so this checks what a build would trip over or get wrong: missing
 * or ignored COPY sources, an entry point the compiler does not produce, a root default user.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

const root = path.resolve(import.meta.dirname, '../../..');

interface Instruction {
  op: string;
  args: string;
  stage: number;
}

function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let stage = -1;
  const joined = text.replace(/\\\n/g, ' ');
  for (const raw of joined.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [op = '', ...rest] = line.split(/\s+/);
    if (op.toUpperCase() === 'FROM') stage++;
    out.push({ op: op.toUpperCase(), args: rest.join(' '), stage });
  }
  return out;
}

const dockerfile = instructions(readFileSync(path.join(root, 'Dockerfile'), 'utf8'));
const ignored = readFileSync(path.join(root, '.dockerignore'), 'utf8')
  .split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
const lastStage = Math.max(...dockerfile.map((i) => i.stage));

test('multi-stage: the runtime stage takes the build output from the build stage', () => {
  const froms = dockerfile.filter((i) => i.op === 'FROM');
  assert.ok(froms.length >= 2);
  const buildName = /\bAS\s+(\S+)/i.exec(froms[0]?.args ?? '')?.[1];
  assert.ok(buildName, 'the build stage is named');
  const fromBuild = dockerfile.filter((i) => i.stage === lastStage && i.op === 'COPY' && i.args.startsWith(`--from=${buildName} `));
  assert.ok(fromBuild.some((i) => i.args.includes('/dist/src')));
  assert.ok(fromBuild.some((i) => i.args.includes('/node_modules')));
});

test('every COPY source from the build context exists and is not excluded by .dockerignore', () => {
  const copies = dockerfile.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from='));
  assert.ok(copies.length > 0);
  for (const copy of copies) {
    const parts = copy.args.split(/\s+/);
    for (const src of parts.slice(0, -1)) {
      assert.ok(existsSync(path.join(root, src)), `${src} exists`);
      const top = src.replace(/^\.\//, '').split('/')[0] ?? '';
      assert.ok(!ignored.includes(top), `${src} is not in .dockerignore`);
    }
  }
  for (const heavy of ['node_modules', '.git', 'dist']) assert.ok(ignored.includes(heavy), `.dockerignore has ${heavy}`);
});

test('the entry point is the compiled CLI, and the default command is serve', () => {
  const tsconfig = JSON.parse(readFileSync(path.join(root, 'tsconfig.json'), 'utf8'));
  assert.equal(tsconfig.compilerOptions.outDir, 'dist');
  assert.equal(tsconfig.compilerOptions.rootDir, '.');
  assert.ok(existsSync(path.join(root, 'src/cli/main.ts')));
  const entry: string[] = JSON.parse(dockerfile.find((i) => i.op === 'ENTRYPOINT' && i.stage === lastStage)?.args ?? '[]');
  assert.equal(entry.at(-1), '/app/dist/src/cli/main.js');
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
  assert.equal(`/app/${pkg.bin['procgroup-exporter']}`, entry.at(-1));
  assert.deepEqual(JSON.parse(dockerfile.find((i) => i.op === 'CMD' && i.stage === lastStage)?.args ?? '[]'), ['serve']);
});

test('the image runs as a non-root user by default, and exposes 9256', () => {
  const users = dockerfile.filter((i) => i.op === 'USER' && i.stage === lastStage);
  const uid = users.at(-1)?.args.split(':')[0];
  assert.match(uid ?? '', /^\d+$/, 'numeric, so runAsNonRoot can verify it');
  assert.notEqual(Number(uid), 0);
  assert.ok(dockerfile.some((i) => i.op === 'EXPOSE' && i.stage === lastStage && i.args === '9256'));
});

test('the image and an installed bin run Node with the same V8 flags', () => {
  const entry: string[] = JSON.parse(dockerfile.find((i) => i.op === 'ENTRYPOINT' && i.stage === lastStage)?.args ?? '[]');
  const shebang = readFileSync(path.join(root, 'src/cli/main.ts'), 'utf8').split('\n')[0] ?? '';
  assert.match(shebang, /^#!\/usr\/bin\/env -S node( --[a-z-]+=\S+)*$/);
  const flags = shebang.split(' ').slice(3);
  assert.ok(flags.some((f) => f.startsWith('--max-semi-space-size=')), 'the young generation is capped');
  assert.deepEqual(entry.slice(1, -1), flags);
});

test('the image ships the Node major CI runs the e2e tests on, and package.json supports it', () => {
  const ci = readFileSync(path.join(root, '.ci/run'), 'utf8');
  const major = /^NODE_LTS_MAJOR=(\d+)$/m.exec(ci)?.[1];
  assert.ok(major, '.ci/run names the LTS major');
  const froms = dockerfile.filter((i) => i.op === 'FROM').map((i) => i.args);
  assert.match(froms[0] ?? '', new RegExp(`^node:${major}-`), 'build stage');
  assert.match(froms.at(-1) ?? '', new RegExp(`^gcr\\.io/distroless/nodejs${major}-debian\\d+:nonroot$`), 'runtime stage');
  const engines: string = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).engines.node;
  assert.ok(engines.split('||').some((r) => r.trim().startsWith(`^${major}.`)), `engines ${engines} covers Node ${major}`);
  assert.ok(engines.split('||').some((r) => r.trim().startsWith(`^${process.versions.node.split('.')[0]}.`)), `engines ${engines} covers the Node running the tests`);
});
