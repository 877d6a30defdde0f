#!/usr/bin/env -S node --max-semi-space-size=2
/**
 * procgroup-exporter entry point: picks the subcommand (default `serve`) and hands it the rest of argv.
 * Each subcommand module exports `run(argv: string[]): Promise<number>` returning the exit code.
 * The V8 flag in the first line (and in the image's entry point) caps the young generation at 2 MiB
 * per semi-space: Node's default lets it grow to 16 MiB and more (x3) with every scrape's garbage,
 * for a CPU saving too small to measure here (docs/performance.md).
 */
type SubcommandModule = { run(argv: string[]): Promise<number> };

const SUBCOMMANDS: Record<string, () => Promise<SubcommandModule>> = {
  serve: () => import('./serve.js'),
  once: () => import('./once.js'),
  'check-config': () => import('./check-config.js'),
  explain: () => import('./explain.js'),
  top: () => import('./top.js'),
  report: () => import('./report.js'),
  deploy: () => import('./deploy.js'),
  delete: () => import('./delete.js'),
  prom: () => import('./prom.js'),
};

function usage(): string {
  return `usage: procgroup-exporter [${Object.keys(SUBCOMMANDS).join('|')}] [flags]\n` +
    `  (no subcommand: serve; 'procgroup-exporter SUBCOMMAND -h' for its flags)\n`;
}

async function main(argv: string[]): Promise<number> {
  const first = argv[0];
  if (first === 'help' || first === '--help' || first === '-h' || first === '-help') {
    process.stdout.write(usage());
    return 0;
  }
  const name = first !== undefined && !first.startsWith('-') ? first : 'serve';
  const rest = name === first ? argv.slice(1) : argv;
  const load = SUBCOMMANDS[name];
  if (!load) {
    process.stderr.write(`unknown subcommand "${name}"\n${usage()}`);
    return 2;
  }
  const mod = await load();
  return mod.run(rest);
}

// installed as the `prom` bin too (package.json): the seed's tool, same command line
const invokedAs = process.argv[1]?.split('/').pop();
main(invokedAs === 'prom' ? ['prom', ...process.argv.slice(2)] : process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`procgroup-exporter: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
