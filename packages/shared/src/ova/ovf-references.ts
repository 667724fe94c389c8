import { OvaFormatError } from '../errors.js';

export interface OvfReference {
  href: string;
  size?: number;
}

/** Largest OVF descriptor we parse; real ones are tens of KiB. */
export const MAX_OVF_BYTES = 4 * 1024 * 1024;

/**
 * Reads the `<References><File ovf:href=… ovf:size=…/>` list of an OVF descriptor.
 * A deliberately small scanner rather than an XML parser: no entities, no DTDs, no XXE.
 */
export function parseOvfReferences(ovfName: string, xml: string): OvfReference[] {
  const refsBlock = /<(?:\w+:)?References\b[^>]*>([\s\S]*?)<\/(?:\w+:)?References>/.exec(xml);
  if (!/<(?:\w+:)?Envelope\b/.test(xml)) {
    throw new OvaFormatError(ovfName, 'is not an OVF descriptor (no <Envelope>)');
  }
  if (!refsBlock) return [];
  const refs: OvfReference[] = [];
  for (const m of refsBlock[1]!.matchAll(/<(?:\w+:)?File\b([^>]*)\/?>/g)) {
    const attrs = m[1]!;
    const href = /(?:\w+:)?href\s*=\s*"([^"]*)"/.exec(attrs)?.[1];
    if (!href) throw new OvaFormatError(ovfName, 'has a <File> reference without ovf:href');
    const sizeText = /(?:\w+:)?size\s*=\s*"([^"]*)"/.exec(attrs)?.[1];
    const size = sizeText === undefined ? undefined : Number(sizeText);
    if (size !== undefined && (!Number.isSafeInteger(size) || size < 0)) {
      throw new OvaFormatError(
        ovfName,
        `reference ${JSON.stringify(href)} has an invalid ovf:size ${JSON.stringify(sizeText)}`,
      );
    }
    refs.push(size === undefined ? { href } : { href, size });
  }
  return refs;
}

export interface MfLine {
  algorithm: 'sha1' | 'sha256';
  name: string;
  digest: string;
}

/** Parses `SHA256(file.vmdk)= <hex>` lines of an OVA's `.mf`. */
export function parseMf(mfName: string, text: string): Map<string, MfLine> {
  const lines = new Map<string, MfLine>();
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (!line) continue;
    const m = /^(SHA1|SHA256)\((.+)\)\s*=\s*([0-9a-fA-F]+)$/.exec(line);
    if (!m) throw new OvaFormatError(mfName, `line ${i + 1} is not "SHA256(file)= hex" or "SHA1(file)= hex"`);
    const algorithm = m[1] === 'SHA1' ? 'sha1' : 'sha256';
    const digest = m[3]!.toLowerCase();
    if (digest.length !== (algorithm === 'sha1' ? 40 : 64)) {
      throw new OvaFormatError(mfName, `line ${i + 1}: ${m[1]} digest has the wrong length`);
    }
    if (lines.has(m[2]!)) throw new OvaFormatError(mfName, `lists ${JSON.stringify(m[2])} twice`);
    lines.set(m[2]!, { algorithm, name: m[2]!, digest });
  }
  return lines;
}
