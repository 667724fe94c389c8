/**
 * Duplicate keys in one JSON text (`{"site":"a","site":"b"}`), as dotted paths. JSON.parse keeps
 * the last value silently, so log lines are checked with this small scanner instead. Throws on
 * text that is not JSON.
 */
export function duplicateKeys(text: string): string[] {
  const dups: string[] = [];
  let i = 0;
  const fail = (what: string): never => {
    throw new Error(`not JSON at ${i}: ${what}: ${text.slice(i, i + 20)}`);
  };
  const ws = () => {
    while (i < text.length && ' \t\r\n'.includes(text[i]!)) i++;
  };
  const string = (): string => {
    if (text[i] !== '"') fail('expected a string');
    const start = i++;
    while (text[i] !== '"') {
      if (i >= text.length) fail('unterminated string');
      i += text[i] === '\\' ? 2 : 1;
    }
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (path: string): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const seen = new Set<string>();
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        const key = string();
        const at = path ? `${path}.${key}` : key;
        if (seen.has(key)) dups.push(at);
        seen.add(key);
        ws();
        if (text[i++] !== ':') fail('expected ":"');
        value(at);
        ws();
        const next = text[i++];
        if (next === '}') return;
        if (next !== ',') fail('expected "," or "}"');
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (let n = 0; ; n++) {
        value(`${path}[${n}]`);
        ws();
        const next = text[i++];
        if (next === ']') return;
        if (next !== ',') fail('expected "," or "]"');
      }
    }
    if (c === '"') {
      string();
      return;
    }
    const literal = /^(?:true|false|null|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(text.slice(i));
    if (!literal) fail('expected a value');
    i += literal![0].length;
  };
  value('');
  ws();
  if (i !== text.length) fail('trailing text');
  return dups;
}
