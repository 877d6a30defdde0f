/**
 * Loaded with `--import` into a process under test: appends the URL of every module that process
 * (and each of its worker threads) resolves to the file named by MODULE_TRACE_FILE, one a line,
 * so a test can say which modules a real exporter loaded.
 */
import { register } from 'node:module';

const file = process.env.MODULE_TRACE_FILE;
if (!file) throw new Error('module-trace: MODULE_TRACE_FILE is not set');
// the hooks run on the loader's own thread: a data: module with just fs, no TypeScript
const hooks = `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(${JSON.stringify(file)}, result.url + '\\n');
  return result;
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`);
