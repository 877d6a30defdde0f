/**
 * Prometheus text format 0.0.4 (as prom-client renders it) -> OpenMetrics 1.0.0.
 * prom-client's own OpenMetrics mode renames counters in place, which would corrupt the text
 * format served to other scrapers, so the conversion happens on the rendered text instead:
 * counter families lose the `_total` suffix in HELP/TYPE (samples keep it); a counter whose
 * name lacks `_total` (process-exporter's namedprocess_scrape_errors) cannot be an OpenMetrics
 * counter and is typed `unknown`; NaN is spelled as OpenMetrics wants; blank lines go; `# EOF`
 * ends the exposition.
 */
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/**
 * True when the Accept header ranks OpenMetrics at least as high as the text format. Koa's
 * accepts() cannot be used: its MIME database does not know application/openmetrics-text.
 */
export function prefersOpenMetrics(accept: string | undefined): boolean {
  if (!accept) return false;
  let openMetrics = 0;
  let text = 0;
  for (const part of accept.split(',')) {
    const [type = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const qParam = params.find((p) => p.startsWith('q='));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2)) || 0;
    if (type === 'application/openmetrics-text') openMetrics = Math.max(openMetrics, q);
    else if (type === 'text/plain' || type === 'text/*' || type === '*/*') text = Math.max(text, q);
  }
  return openMetrics > 0 && openMetrics >= text;
}

export function toOpenMetrics(text: string): string {
  const out: string[] = [];
  let pendingHelp: { name: string; rest: string } | undefined;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# HELP ')) {
      const body = line.slice(7);
      const sp = body.indexOf(' ');
      pendingHelp = sp < 0 ? { name: body, rest: '' } : { name: body.slice(0, sp), rest: body.slice(sp + 1) };
      continue;
    }
    if (line.startsWith('# TYPE ')) {
      const [name = '', type = 'untyped'] = line.slice(7).split(' ');
      let family = name;
      let omType = type === 'untyped' ? 'unknown' : type;
      if (type === 'counter') {
        if (name.endsWith('_total')) family = name.slice(0, -6);
        else omType = 'unknown';
      }
      if (pendingHelp && pendingHelp.name === name) out.push(`# HELP ${family} ${pendingHelp.rest}`);
      pendingHelp = undefined;
      out.push(`# TYPE ${family} ${omType}`);
      continue;
    }
    // prom-client spells NaN "Nan"; OpenMetrics accepts only "NaN"
    out.push(line.endsWith(' Nan') ? `${line.slice(0, -3)}NaN` : line);
  }
  out.push('# EOF');
  return `${out.join('\n')}\n`;
}
