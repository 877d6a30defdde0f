import assert from 'node:assert/strict';
import { test } from 'node:test';
import { prefersOpenMetrics, toOpenMetrics } from '../../../src/server/openmetrics.js';

const TEXT = `# HELP namedprocess_namegroup_cpu_seconds_total Cpu user usage in seconds
# TYPE namedprocess_namegroup_cpu_seconds_total counter
namedprocess_namegroup_cpu_seconds_total{groupname="a",mode="user"} 1.5

# HELP namedprocess_scrape_errors general scrape errors
# TYPE namedprocess_scrape_errors counter
namedprocess_scrape_errors 0

# HELP namedprocess_namegroup_num_procs number of processes in this group
# TYPE namedprocess_namegroup_num_procs gauge
namedprocess_namegroup_num_procs{groupname="a"} 2
`;

test('counters lose _total in HELP/TYPE only; counters without _total become unknown; # EOF ends', () => {
  assert.equal(
    toOpenMetrics(TEXT),
    `# HELP namedprocess_namegroup_cpu_seconds Cpu user usage in seconds
# TYPE namedprocess_namegroup_cpu_seconds counter
namedprocess_namegroup_cpu_seconds_total{groupname="a",mode="user"} 1.5
# HELP namedprocess_scrape_errors general scrape errors
# TYPE namedprocess_scrape_errors unknown
namedprocess_scrape_errors 0
# HELP namedprocess_namegroup_num_procs number of processes in this group
# TYPE namedprocess_namegroup_num_procs gauge
namedprocess_namegroup_num_procs{groupname="a"} 2
# EOF
`,
  );
});

test('prom-client\'s "Nan" becomes OpenMetrics "NaN"', () => {
  assert.equal(toOpenMetrics('# HELP lag x\n# TYPE lag gauge\nlag Nan\n'), '# HELP lag x\n# TYPE lag gauge\nlag NaN\n# EOF\n');
});

test('content negotiation by q-value, as Prometheus sends it', () => {
  assert.equal(prefersOpenMetrics('application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'), true);
  assert.equal(prefersOpenMetrics('text/plain;version=0.0.4;q=1,application/openmetrics-text;q=0.5'), false);
  assert.equal(prefersOpenMetrics('*/*'), false);
  assert.equal(prefersOpenMetrics(undefined), false);
  assert.equal(prefersOpenMetrics('application/openmetrics-text; q=0'), false);
});
