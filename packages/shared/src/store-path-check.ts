/** True for a relative store path with no `..` segment, backslash, NUL or empty segment. */
export function isSafeStorePath(p: string): boolean {
  if (!p || p.length > 1024 || p.startsWith('/') || p.includes('\\') || p.includes('\0')) return false;
  return p.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..');
}
