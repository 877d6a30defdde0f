/**
 * A strict reader of the Prometheus text format 0.0.4 for tests: samples with their labels
 * unescaped (\\, \", \n), and each family's TYPE. Throws on any line it cannot read.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  samples: Sample[];
  /** family name -> counter, gauge, ... */
  types: Map<string, string>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;

export function parseExposition(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line === '') return;
    if (line.startsWith('# TYPE ')) {
      const [name, type] = line.slice(7).split(' ');
      if (!name || !type) throw new Error(`line ${i + 1}: bad TYPE: ${line}`);
      types.set(name, type);
      return;
    }
    if (line.startsWith('#')) return;
    const m = NAME.exec(line);
    if (!m) throw new Error(`line ${i + 1}: no metric name: ${JSON.stringify(line)}`);
    const name = m[0];
    let pos = name.length;
    const labels: Record<string, string> = {};
    if (line[pos] === '{') {
      pos++;
      while (line[pos] !== '}') {
        const ln = NAME.exec(line.slice(pos));
        if (!ln || line[pos + ln[0].length] !== '=' || line[pos + ln[0].length + 1] !== '"') throw new Error(`line ${i + 1}: bad label at ${pos}: ${JSON.stringify(line)}`);
        pos += ln[0].length + 2;
        let value = '';
        for (;;) {
          const c = line[pos++];
          if (c === undefined) throw new Error(`line ${i + 1}: unterminated label value`);
          if (c === '"') break;
          if (c === '\\') {
            const e = line[pos++];
            if (e === 'n') value += '\n';
            else if (e === '\\' || e === '"') value += e;
            else throw new Error(`line ${i + 1}: bad escape \\${String(e)}`);
          } else {
            value += c;
          }
        }
        labels[ln[0]] = value;
        if (line[pos] === ',') pos++;
      }
      pos++;
    }
    if (line[pos] !== ' ') throw new Error(`line ${i + 1}: no value: ${JSON.stringify(line)}`);
    const [raw] = line.slice(pos + 1).split(' ');
    // Go's ParseFloat, which Prometheus uses, reads NaN in any case (prom-client writes "Nan")
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : /^nan$/i.test(raw ?? '') ? NaN : Number(raw);
    if (raw === undefined || (Number.isNaN(value) && !/^nan$/i.test(raw))) throw new Error(`line ${i + 1}: bad value ${String(raw)} in ${JSON.stringify(lines.slice(Math.max(0, i - 3), i + 1))}`);
    samples.push({ name, labels, value });
  });
  return { samples, types };
}

/** Stable identity of a series: name plus sorted labels. */
export function seriesKey(s: Sample): string {
  return `${s.name}${JSON.stringify(Object.entries(s.labels).sort(([a], [b]) => (a < b ? -1 : 1)))}`;
}

/** The family a sample belongs to when the family is a counter (samples carry the _total name). */
export function isCounterSample(s: Sample, types: ReadonlyMap<string, string>): boolean {
  return types.get(s.name) === 'counter';
}

export function find(e: Exposition, name: string, labels: Record<string, string> = {}): Sample[] {
  return e.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}
