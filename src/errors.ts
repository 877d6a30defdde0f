/**
 * Error classes with stable codes. Callers branch on `code`, never on message text.
 */
export type ErrorCode =
  | 'PROCESS_GONE'
  | 'PERMISSION_DENIED'
  | 'READ_FAILED'
  | 'PARSE_FAILED'
  | 'CONFIG_INVALID'
  | 'CONFIG_READ_FAILED'
  | 'FLAG_INVALID'
  | 'CGROUP2_UNAVAILABLE'
  | 'PSI_UNAVAILABLE'
  | 'PERF_UNAVAILABLE'
  | 'PERF_EVENT_UNSUPPORTED'
  | 'PERF_FD_LIMIT'
  | 'TASKSTATS_UNAVAILABLE'
  | 'NETLINK_FAILED'
  | 'PROMETHEUS_UNREACHABLE'
  | 'PROMETHEUS_AUTH'
  | 'PROMETHEUS_QUERY'
  | 'REPORT_NO_DATA'
  | 'KUBECTL_FAILED'
  | 'MANIFEST_INVALID'
  | 'WEB_CONFIG_INVALID'
  | 'PROCFS_UNUSABLE'
  | 'FILE_REFUSED'
  | 'BCRYPT_WORKER_FAILED';

export class ExporterError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A process or thread exited while we read it: expected, never counted as an error. */
export class ProcessGoneError extends ExporterError {
  constructor(path: string, options?: { cause?: unknown }) {
    super('PROCESS_GONE', `process gone: ${path}`, options);
  }
}

/** A /proc (or /sys) file could not be read for a reason other than the process exiting. */
export class ProcReadError extends ExporterError {
  readonly path: string;
  /** errno name (EACCES, EPERM, EIO, ...) */
  readonly errno: string;
  constructor(path: string, errno: string, options?: { cause?: unknown }) {
    super(errno === 'EACCES' || errno === 'EPERM' ? 'PERMISSION_DENIED' : 'READ_FAILED', `cannot read ${path}: ${errno}`, options);
    this.path = path;
    this.errno = errno;
  }
}

/** A kernel file had content its parser could not make sense of. */
export class ParseError extends ExporterError {
  readonly file: string;
  constructor(file: string, detail: string, options?: { cause?: unknown }) {
    super('PARSE_FAILED', `cannot parse ${file}: ${detail}`, options);
    this.file = file;
  }
}

/** One problem in a config file, located by file, line, column and field. */
export interface ConfigProblem {
  file: string;
  line: number;
  column: number;
  /** dotted path of the offending field, e.g. process_names[2].cmdline[0] */
  field: string;
  message: string;
}

/** `file:line:column: field: message`; line 0 means the problem has no position (e.g. unreadable file). */
export function formatProblem(p: ConfigProblem): string {
  const where = p.line > 0 ? `${p.file}:${p.line}:${p.column}` : p.file;
  return `${where}: ${p.field ? `${p.field}: ` : ''}${p.message}`;
}

export class ConfigError extends ExporterError {
  readonly problems: readonly ConfigProblem[];
  constructor(
    problems: readonly ConfigProblem[],
    options?: { cause?: unknown; code?: 'CONFIG_INVALID' | 'CONFIG_READ_FAILED' },
  ) {
    super(options?.code ?? 'CONFIG_INVALID', problems.map(formatProblem).join('\n'), options);
    this.problems = problems;
  }
}

const GONE_ERRNOS = new Set(['ENOENT', 'ESRCH']);

/** True when a filesystem error on /proc means the process (or thread) has exited. */
export function isProcessGone(err: unknown): boolean {
  if (err instanceof ProcessGoneError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && GONE_ERRNOS.has(code);
}

/** errno name of a Node system error, or 'EUNKNOWN'. */
export function errnoOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'EUNKNOWN';
}

/** Talking to a Prometheus server failed: not reachable, credentials refused, or the query was rejected. */
export class PrometheusError extends ExporterError {
  /** the request URL without query string (never carries credentials) */
  readonly url: string;
  /** HTTP status when the server answered */
  readonly status: number | undefined;
  constructor(
    code: 'PROMETHEUS_UNREACHABLE' | 'PROMETHEUS_AUTH' | 'PROMETHEUS_QUERY',
    url: string,
    message: string,
    options?: { cause?: unknown; status?: number },
  ) {
    super(code, message, options);
    this.url = url;
    this.status = options?.status;
  }
}
