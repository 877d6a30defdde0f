/** Longest label value (group name, templated label) in bytes; a process controls argv and names. */
export const MAX_LABEL_BYTES = 1024;
/** Ends a value cut at MAX_LABEL_BYTES, so a cut name never passes for a real one. */
export const TRUNCATED_MARKER = '...[truncated]';

/** `value`, or its first bytes (on a UTF-8 boundary) plus the marker, MAX_LABEL_BYTES in all. */
export function capLabel(value: string): string {
  // UTF-16 length bounds the UTF-8 length from below: short strings skip the byte count
  if (value.length <= MAX_LABEL_BYTES / 3 || Buffer.byteLength(value) <= MAX_LABEL_BYTES) return value;
  const bytes = Buffer.from(value).subarray(0, MAX_LABEL_BYTES - TRUNCATED_MARKER.length);
  // drop a trailing partial character: continuation bytes and the lead byte they follow
  let end = bytes.length;
  let i = end - 1;
  while (i >= 0 && ((bytes[i] as number) & 0xc0) === 0x80) i--;
  if (i >= 0 && (bytes[i] as number) >= 0xc0) {
    const lead = bytes[i] as number;
    const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
    if (end - i < need) end = i;
  }
  return bytes.subarray(0, end).toString('utf8') + TRUNCATED_MARKER;
}
