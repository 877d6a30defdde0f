/**
 * Opens a taskstats client and prints the outcome as JSON: {"ok":true,"family":N} or the error's
 * {"code","errno"}. Run by client.test.ts inside namespaces and capability sets the test process
 * itself cannot leave.
 */
import { TaskstatsClient } from '../../../src/taskstats/client.js';
import { ExporterError } from '../../../src/errors.js';

try {
  const client = TaskstatsClient.open();
  console.log(JSON.stringify({ ok: true, family: client.family.id }));
  client.close();
} catch (err) {
  if (!(err instanceof ExporterError)) throw err;
  console.log(JSON.stringify({ ok: false, code: err.code, errno: (err as { errno?: string }).errno, message: err.message }));
}
