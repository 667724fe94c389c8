import { imageFromPath } from '@ferry/coordinator';
import { describe, expect, it } from 'vitest';

/** Store discovery and the Artifactory webhook read `[<prefix dir>/]<name>/<version>/<file>.ova`. */
describe('imageFromPath', () => {
  it.each([
    ['ubuntu/2026.11.21/ubuntu.ova', '', { name: 'ubuntu', version: '2026.11.21' }],
    ['ubuntu-22.04/22.04.5/ubuntu.ova', '', { name: 'ubuntu-22.04', version: '22.04.5' }],
    ['rhel-9.4/2026.12.01/rhel.ova', 'images/', { reason: 'not under images/' }],
    ['images/rhel-9.4/2026.12.01/rhel.ova', 'images/', { name: 'rhel-9.4', version: '2026.12.01' }],
    ['win_2022/1.2.3+build.7/win.ova', '', { name: 'win_2022', version: '1.2.3+build.7' }],
    ['.hidden/1/x.ova', '', { reason: '".hidden" is not a valid image name' }],
    ['ubuntu/1./x.ova', '', { reason: '"1." is not a valid version' }],
    ['ubuntu/x.ova', '', { reason: 'path does not fit <name>/<version>/<file>.ova' }],
  ])('%s (prefix %j)', (path, prefix, expected) => {
    expect(imageFromPath(path, prefix)).toEqual(expected);
  });
});
