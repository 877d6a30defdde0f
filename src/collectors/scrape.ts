import { Counter, type Registry } from 'prom-client';
import type { CycleSnapshot } from '../grouper/snapshot.js';
import type { Collector } from './collector.js';

/**
 * process-exporter's scrape error counters (names without _total, as in 0.7.10), plus the same
 * read errors by file and errno. A process exiting while read is not an error.
 */
export class ScrapeCollector implements Collector {
  readonly name = 'scrape';
  private m!: { scrapeErrors: Counter; procRead: Counter; partial: Counter; byCause: Counter };

  register(registry: Registry): void {
    const registers = [registry];
    this.m = {
      scrapeErrors: new Counter({ name: 'namedprocess_scrape_errors', help: 'general scrape errors: no proc metrics collected during a cycle', registers }),
      procRead: new Counter({ name: 'namedprocess_scrape_procread_errors', help: "incremented each time a proc's metrics collection fails", registers }),
      partial: new Counter({
        name: 'namedprocess_scrape_partial_errors',
        help: "incremented each time a tracked proc's metrics collection fails partially, e.g. unreadable I/O stats",
        registers,
      }),
      byCause: new Counter({
        name: 'procgroup_exporter_read_errors_total',
        help: 'proc files that could not be read (process exits excluded), by file and errno',
        labelNames: ['file', 'errno'],
        registers,
      }),
    };
  }

  update(cycle: CycleSnapshot): void {
    this.reset();
    const { errors } = cycle;
    this.m.scrapeErrors.inc(errors.scrapeErrors);
    this.m.procRead.inc(errors.procReadErrors);
    this.m.partial.inc(errors.partialErrors);
    for (const [file, byErrno] of errors.byFile) {
      for (const [errno, n] of byErrno) this.m.byCause.inc({ file, errno }, n);
    }
  }

  reset(): void {
    for (const metric of Object.values(this.m)) metric.reset();
  }
}
