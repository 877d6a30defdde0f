/** Parsing of the report's time flags: Prometheus durations and evaluation instants. */

/** Prometheus duration syntax (units in descending order, each at most once), e.g. 1h, 90m, 1h30m. */
const DURATION_RE = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;
const UNIT_MS = [365 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000, 1];

/** Milliseconds of a Prometheus duration, or undefined when `s` is not one or is zero. */
export function parseDuration(s: string): number | undefined {
  const m = DURATION_RE.exec(s);
  if (!m || s === '') return undefined;
  let ms = 0;
  for (let i = 0; i < UNIT_MS.length; i++) ms += Number(m[i + 1] ?? 0) * (UNIT_MS[i] ?? 0);
  return ms > 0 ? ms : undefined;
}

const RFC3339_RE = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}:\d{2})$/;

/**
 * An instant as Prometheus's API accepts it: Unix seconds (fraction allowed) or RFC 3339 with an
 * explicit zone, so a report never depends on the local time zone. Undefined when neither.
 */
export function parseInstant(s: string): Date | undefined {
  const d = /^\d+(?:\.\d+)?$/.test(s) ? new Date(Number(s) * 1000) : RFC3339_RE.test(s) ? new Date(s) : undefined;
  return d && !Number.isNaN(d.getTime()) ? d : undefined;
}

const ZONELESS_RE = /^\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$/;

/**
 * As parseInstant, and a date or date-time without a zone read as UTC (the seed's `prom -T`),
 * e.g. 2024-05-01, 2024-05-01 12:00, 2024-05-01T12:00:00.
 */
export function parseInstantUtc(s: string): Date | undefined {
  if (!ZONELESS_RE.test(s)) return parseInstant(s);
  const d = new Date(`${s.length === 10 ? `${s}T00:00` : s.replace(/[t ]/, 'T')}Z`);
  return Number.isNaN(d.getTime()) ? undefined : d;
}
