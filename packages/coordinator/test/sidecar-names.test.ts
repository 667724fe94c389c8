/** Pure naming decisions: which sidecar belongs to which image version, which OVAs have one, markers. */
import { describe, expect, it } from 'vitest';
import { isSidecarPathOf, markedArtifact, ovasWithSidecars, sidecarPathOf } from '../src/index.js';

const image = { artifact: 'ubuntu/1.1/ubuntu.ova', name: 'ubuntu', version: '1.1' };

describe('sidecar names', () => {
  it('one per image version, next to the artifact', () => {
    expect(sidecarPathOf(image)).toBe('ubuntu/1.1/ubuntu.ova.ubuntu@1.1.manifest.json');
    expect(sidecarPathOf({ ...image, name: 'golden', version: '7' })).toBe(
      'ubuntu/1.1/ubuntu.ova.golden@7.manifest.json',
    );
  });

  it.each([
    ['ubuntu/1.1/ubuntu.ova.ubuntu@1.1.manifest.json', true],
    ['ubuntu/1.1/ubuntu.ova.manifest.json', true], // the older one-per-object name
    ['ubuntu/1.1/ubuntu.ova.golden@7.manifest.json', false],
    ['ubuntu/1.0/ubuntu.ova.ubuntu@1.1.manifest.json', false],
  ])('%s belongs to ubuntu@1.1: %s', (path, expected) => {
    expect(isSidecarPathOf(path, image)).toBe(expected);
  });

  it('finds the OVAs that have any sidecar', () => {
    const owners = ovasWithSidecars([
      'a/1/a.ova',
      'a/1/a.ova.a@1.manifest.json',
      'b/2/b.OVA',
      'b/2/b.OVA.manifest.json',
      'c/3/c.ova',
      'c/3/c.ova.ferry-publishing',
      'd/4/notes.manifest.json',
    ]);
    expect([...owners].sort()).toEqual(['a/1/a.ova', 'b/2/b.OVA']);
  });

  it.each([
    ['c/3/c.ova.ferry-publishing', 'c/3/c.ova'],
    ['c/3/c.ova', undefined],
    ['c/3/c.ova.a@1.manifest.json', undefined],
  ])('marker %s guards %s', (path, artifact) => {
    expect(markedArtifact(path)).toBe(artifact);
  });
});
