/**
 * Decoding of tar headers the way tar-stream 3 (which `OvaReader` streams through) decodes them:
 * the same formats (ustar with its prefix, GNU, pax and GNU long names), the same sizes (octal or
 * base-256), the same type names and the same error messages. `OvaProver` walks the cache file
 * with it and reads the entries' bytes at their offsets, so both readers see the same archive.
 */

export const TAR_BLOCK = 512;
/** The largest pax or GNU long-name header body read (tar-stream's limit). */
export const MAX_LONG_HEADER_BYTES = 4 * 1024 * 1024;

export type TarEntryType =
  | 'file'
  | 'link'
  | 'symlink'
  | 'character-device'
  | 'block-device'
  | 'directory'
  | 'fifo'
  | 'contiguous-file'
  | 'pax-header'
  | 'pax-global-header'
  | 'gnu-long-link-path'
  | 'gnu-long-path';

export interface TarHeader {
  name: string;
  /** null for a typeflag tar-stream does not know. */
  type: TarEntryType | null;
  size: number;
}

const TYPES: Record<number, TarEntryType> = {
  0: 'file',
  1: 'link',
  2: 'symlink',
  3: 'character-device',
  4: 'block-device',
  5: 'directory',
  6: 'fifo',
  7: 'contiguous-file',
  72: 'pax-header',
  55: 'pax-global-header',
  27: 'gnu-long-link-path',
  28: 'gnu-long-path',
  30: 'gnu-long-path',
};

/** The header in one 512-byte block; null for an all-zero block (the end-of-archive padding). */
export function decodeTarHeader(block: Buffer): TarHeader | null {
  let typeflag = block[156] === 0 ? 0 : block[156]! - 0x30;
  let name = decodeString(block, 0, 100);
  const size = decodeNumber(block, 124, 12);
  const sum = checksum(block);
  if (sum === 8 * 32) return null;
  if (sum !== decodeNumber(block, 148, 8)) {
    throw new Error('Invalid tar header. Maybe the tar is corrupted or it needs to be gunzipped?');
  }
  const magic = block.toString('latin1', 257, 263);
  if (magic === 'ustar\0') {
    if (block[345]) name = `${decodeString(block, 345, 155)}/${name}`;
  } else if (!(magic === 'ustar ' && block[263] === 0x20 && block[264] === 0)) {
    throw new Error('Invalid tar header: unknown format.');
  }
  // Old tars mark directories with a trailing slash.
  if (typeflag === 0 && name.endsWith('/')) typeflag = 5;
  return { name, type: TYPES[typeflag] ?? null, size };
}

/** The records of a pax header body (`<len> <key>=<value>\n` each). */
export function decodePax(body: Buffer): Record<string, string> {
  const result: Record<string, string> = {};
  let buf = body;
  while (buf.length) {
    let i = 0;
    while (i < buf.length && buf[i] !== 32) i++;
    const len = Number.parseInt(buf.toString('utf8', 0, i), 10);
    if (!len) return result;
    const record = buf.toString('utf8', i + 1, len - 1);
    const eq = record.indexOf('=');
    if (eq === -1) return result;
    result[record.slice(0, eq)] = record.slice(eq + 1);
    buf = buf.subarray(len);
  }
  return result;
}

/** A GNU long name's body: the name up to its first NUL. */
export function decodeLongPath(body: Buffer): string {
  return decodeString(body, 0, body.length);
}

/** Bytes of padding after a body of `size` bytes, up to the next block. */
export function tarPadding(size: number): number {
  const rest = size % TAR_BLOCK;
  return rest === 0 ? 0 : TAR_BLOCK - rest;
}

function decodeString(buf: Buffer, offset: number, length: number): string {
  let end = offset;
  while (end < offset + length && buf[end] !== 0) end++;
  return buf.toString('utf8', offset, end);
}

function decodeNumber(buf: Buffer, offset: number, length: number): number {
  const field = buf.subarray(offset, offset + length);
  // Base-256 (a leading 0x80 or 0xff byte): GNU tar's form for sizes over 8 GiB.
  if (field[0]! & 0x80) return decodeBase256(field);
  let start = 0;
  while (start < field.length && field[start] === 32) start++;
  let end = field.indexOf(32, start);
  if (end === -1) end = field.length;
  while (start < end && field[start] === 0) start++;
  if (end === start) return 0;
  return Number.parseInt(field.toString('latin1', start, end), 8);
}

function decodeBase256(field: Buffer): number {
  const positive = field[0] === 0x80;
  if (!positive && field[0] !== 0xff) return Number.NaN;
  let sum = 0;
  for (let i = 1; i < field.length; i++) sum = sum * 256 + (positive ? field[i]! : 0xff - field[i]!);
  return positive ? sum : -sum;
}

function checksum(block: Buffer): number {
  let sum = 8 * 32;
  for (let i = 0; i < 148; i++) sum += block[i]!;
  for (let i = 156; i < 512; i++) sum += block[i]!;
  return sum;
}
