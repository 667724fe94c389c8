/**
 * The deploy check step of a job, as pure logic: when it runs (decideCheck) and what it leaves in
 * the item's marker and the status record (CheckStage over in-memory fakes). The same step
 * against real vcsim, NATS and s3rver is in deploy-check-agent.test.ts.
 */
import { type DeployCheckRecord, type Logger, type Manifest, silentLogger } from '@ferry/shared';
import {
  CheckStage,
  type CheckStep,
  DeployCheckError,
  type DeployCheckResult,
  decideCheck,
  formatMarker,
  type ItemMarker,
  parseMarker,
} from '@ferry/site-agent/internal';
import { describe, expect, it } from 'vitest';

const marker = (over: Partial<ItemMarker> = {}): ItemMarker => ({ name: 'u', version: '1', sha256: 'a', ...over });

describe('decideCheck', () => {
  it.each<[string, boolean, boolean, ItemMarker | undefined, CheckStep]>([
    ['enabled, new import', true, true, undefined, 'check'],
    ['enabled, already there and checked', true, false, marker(), 'none'],
    ['enabled, already there, check did not finish', true, false, marker({ checking: true }), 'check'],
    [
      'enabled, already there, check failed (republish retries it)',
      true,
      false,
      marker({ checkFailed: true }),
      'check',
    ],
    ['disabled, new import', false, true, undefined, 'none'],
    ['disabled, plain item', false, false, marker(), 'none'],
    ['disabled, item flagged by an earlier check', false, false, marker({ checkFailed: true }), 'clear-flags'],
    ['disabled, item left checking', false, false, marker({ checking: true }), 'clear-flags'],
  ])('%s', (_what, enabled, imported, m, step) => {
    expect(decideCheck(enabled, imported, m)).toBe(step);
  });
});

const manifest = { name: 'u', version: '1', sha256: 'a', publishedAt: '2026-12-01T00:00:00Z' } as Manifest;
const log: Logger = silentLogger();

function stage(result: DeployCheckResult | undefined, description = formatMarker(marker())) {
  const descriptions: string[] = [description];
  const patches: Array<{ state?: string; check?: DeployCheckRecord }> = [];
  const s = new CheckStage({
    ...(result ? { checker: { check: async () => result } } : {}),
    library: {
      getItem: async (id) => ({ id, name: 'u-1', description: descriptions.at(-1)! }),
      updateItem: async (_id, patch) => void descriptions.push(patch.description!),
    },
    setStatus: async (_m, patch) => void patches.push(patch),
  });
  const markers = () => descriptions.slice(1).map((d) => parseMarker(d));
  return { s, markers, patches };
}

const item = { itemId: 'item-1', itemName: 'u-1', skipped: false };

describe('CheckStage', () => {
  it('a passed check: checking, then the marker without flags, and its record', async () => {
    const { s, markers, patches } = stage({ passed: true, durationMs: 5, vm: 'vm-9' });
    const record = await s.run(manifest, item, new AbortController().signal, log);
    expect(record).toMatchObject({ passed: true, durationMs: 5, vm: 'vm-9' });
    expect(patches).toEqual([{ state: 'checking', libraryItemId: 'item-1', check: undefined }]);
    expect(markers().map((m) => [m?.checking, m?.checkFailed])).toEqual([
      [true, undefined],
      [undefined, undefined],
    ]);
  });

  it("a failed check: the item is flagged checkFailed, the record keeps vCenter's message, the error is thrown", async () => {
    const error = new DeployCheckError('vCenter could not deploy the item: no controller');
    const { s, markers, patches } = stage({ passed: false, durationMs: 7, error });
    await expect(s.run(manifest, item, new AbortController().signal, log)).rejects.toBe(error);
    expect(markers().at(-1)).toMatchObject({ checkFailed: true, sha256: 'a' });
    expect(patches.at(-1)?.check).toMatchObject({ passed: false, error: error.message });
  });

  it('check disabled and a flagged item: the flag is cleared, nothing runs', async () => {
    const { s, markers, patches } = stage(undefined, formatMarker(marker({ checkFailed: true })));
    expect(await s.run(manifest, { ...item, skipped: true }, new AbortController().signal, log)).toBeUndefined();
    expect(markers()).toEqual([{ ...marker(), publishedAt: manifest.publishedAt }]);
    expect(patches).toEqual([]);
  });

  it('an aborted job stops waiting for the check', async () => {
    const controller = new AbortController();
    const s = new CheckStage({
      checker: { check: () => new Promise<DeployCheckResult>(() => undefined) },
      library: { getItem: async () => undefined, updateItem: async () => undefined },
      setStatus: async () => undefined,
    });
    const running = s.run(manifest, item, controller.signal, log);
    controller.abort(new Error('agent shutting down'));
    await expect(running).rejects.toThrow('agent shutting down');
  });
});
