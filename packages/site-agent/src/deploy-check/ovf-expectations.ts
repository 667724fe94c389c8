/**
 * What a VM deployed from an OVF must have: the virtual disks its hardware section declares
 * (rasd:ResourceType 17) and the network names to map. Parsed with fast-xml-parser.
 */
import { OvaFormatError } from '@ferry/shared';
import { XMLParser } from 'fast-xml-parser';

export interface OvfExpectations {
  disks: number;
  networks: string[];
}

/** CIM resource type of a virtual disk. */
const DISK_RESOURCE_TYPE = '17';

const parser = new XMLParser({
  ignoreAttributes: false,
  removeNSPrefix: true,
  parseTagValue: false,
  processEntities: true,
  htmlEntities: false,
});

type Node = Record<string, unknown>;

const arr = (v: unknown): Node[] => (v === undefined || v === null ? [] : Array.isArray(v) ? v : [v]) as Node[];
const text = (v: unknown): string =>
  v !== null && typeof v === 'object' ? String((v as Node)['#text'] ?? '') : String(v ?? '');

export function ovfExpectations(ovfName: string, xml: string): OvfExpectations {
  let doc: Node;
  try {
    doc = parser.parse(xml) as Node;
  } catch (err) {
    throw new OvaFormatError(ovfName, `is not well-formed XML: ${(err as Error).message}`);
  }
  const raw = doc['Envelope'];
  // An empty element parses to '': still an envelope, just without content.
  const env = (raw !== null && typeof raw === 'object' ? raw : raw === undefined ? undefined : {}) as Node | undefined;
  if (!env) throw new OvaFormatError(ovfName, 'is not an OVF descriptor (no <Envelope>)');
  const system = arr(env['VirtualSystem'])[0];
  if (!system) throw new OvaFormatError(ovfName, 'declares no <VirtualSystem> to deploy');
  // Only the first hardware section counts: that is the one vCenter deploys by default.
  const hardware = arr(system['VirtualHardwareSection'])[0];
  if (!hardware) throw new OvaFormatError(ovfName, 'has no <VirtualHardwareSection> (nothing to deploy)');
  const items = [...arr(hardware['Item']), ...arr(hardware['StorageItem'])];
  return {
    disks: items.filter((i) => text(i['ResourceType']) === DISK_RESOURCE_TYPE).length,
    networks: arr((env['NetworkSection'] as Node | undefined)?.['Network'])
      .map((n) => text(n['@_name']))
      .filter(Boolean),
  };
}
