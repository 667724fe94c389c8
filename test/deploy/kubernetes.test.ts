/**
 * deploy/kubernetes/: every YAML document parses and has the shape Kubernetes needs; probes
 * hit the port the embedded config listens on; every Secret and ConfigMap referenced is either
 * in the manifests or in the documented list (deploy/kubernetes/README.md); every embedded
 * config validates with ferry's own loader, given (fake) values for the env vars the pod sets.
 * No cluster here (kubectl has no server to validate against), so this is the check.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveAgentConfig, resolveCoordinatorConfig } from '@ferry/shared';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { DEPLOY_DIR, EXAMPLE_SITES } from './nats-deploy.js';

const K8S = join(DEPLOY_DIR, 'kubernetes');

// biome-ignore lint/suspicious/noExplicitAny: manifests are checked field by field below
type Doc = any;

const files = readdirSync(K8S).filter((f) => f.endsWith('.yaml'));
const docs: Array<{ file: string; doc: Doc }> = files.flatMap((file) =>
  parseAllDocuments(readFileSync(join(K8S, file), 'utf8')).map((d) => {
    if (d.errors.length) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
    return { file, doc: d.toJS() };
  }),
);
const ofKind = (kind: string) => docs.filter((d) => d.doc.kind === kind);

const API_VERSIONS: Record<string, string> = {
  Namespace: 'v1',
  ConfigMap: 'v1',
  Secret: 'v1',
  Service: 'v1',
  Deployment: 'apps/v1',
};

/** `| \`name\` | \`key\`, \`key\` | … |` rows of a table in README.md, by the header's first column. */
function documented(header: string): Map<string, Set<string>> {
  const lines = readFileSync(join(K8S, 'README.md'), 'utf8').split('\n');
  const start = lines.findIndex((l) => l.split('|')[1]?.trim() === header);
  expect(start, `README.md has a "${header}" table`).toBeGreaterThanOrEqual(0);
  const out = new Map<string, Set<string>>();
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    const cols = line.split('|').map((c) => c.trim());
    const name = /`([^`]+)`/.exec(cols[1]!)![1]!;
    out.set(name, new Set([...cols[2]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!)));
  }
  return out;
}

function fakeEnv(container: Doc): Record<string, string> {
  return Object.fromEntries((container.env ?? []).map((e: Doc) => [e.name, `fake-${e.name.toLowerCase()}`]));
}

function listenPort(listen: string): number {
  return Number(listen.slice(listen.lastIndexOf(':') + 1));
}

describe('deploy/kubernetes manifests', () => {
  it('every document has a known kind, its apiVersion, a name and the ferry namespace', () => {
    expect(docs.length).toBeGreaterThanOrEqual(1 + 2 * EXAMPLE_SITES.length + 3);
    for (const { file, doc } of docs) {
      expect(API_VERSIONS[doc.kind], `${file}: kind ${doc.kind}`).toBeDefined();
      expect(doc.apiVersion, `${file} ${doc.kind}`).toBe(API_VERSIONS[doc.kind]);
      expect(doc.metadata?.name, `${file}: metadata.name`).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      if (doc.kind === 'Namespace') expect(doc.metadata.name).toBe('ferry');
      else expect(doc.metadata.namespace, `${file} ${doc.kind} ${doc.metadata.name}`).toBe('ferry');
      expect(doc.kind, `${file}: no Secret values are committed`).not.toBe('Secret');
    }
  });

  it('one agent Deployment per example zone, and the coordinator', () => {
    const names = ofKind('Deployment').map((d) => d.doc.metadata.name);
    expect(names.sort()).toEqual(['ferry-coordinator', ...EXAMPLE_SITES.map((s) => `ferry-agent-${s}`)].sort());
  });

  it('Deployments: selector matches the pod, hardened pods, resources, volumes mounted exist', () => {
    for (const { file, doc } of ofKind('Deployment')) {
      const spec = doc.spec;
      expect(spec.replicas, `${file}: one replica (one agent per site, one discovery)`).toBe(1);
      expect(spec.strategy?.type, `${file}: never two at once`).toBe('Recreate');
      for (const [k, v] of Object.entries(spec.selector.matchLabels)) expect(spec.template.metadata.labels[k]).toBe(v);
      const pod = spec.template.spec;
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
      expect(pod.securityContext.seccompProfile.type).toBe('RuntimeDefault');
      expect(pod.automountServiceAccountToken).toBe(false);
      const volumes = new Set(pod.volumes.map((v: Doc) => v.name));
      for (const c of pod.containers) {
        expect(c.image, `${file}: image`).toMatch(/^\S+:\S+$/);
        expect(c.resources.requests.cpu && c.resources.requests.memory && c.resources.limits.memory).toBeTruthy();
        expect(c.securityContext).toMatchObject({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
        });
        for (const m of c.volumeMounts) expect(volumes.has(m.name), `${file}: volume ${m.name}`).toBe(true);
        // Read-only root: /tmp must be a volume.
        expect(c.volumeMounts.some((m: Doc) => m.mountPath === '/tmp')).toBe(true);
        expect(c.livenessProbe?.httpGet && c.readinessProbe?.httpGet, `${file}: probes`).toBeTruthy();
      }
    }
  });

  it('every Secret and ConfigMap referenced is in the manifests or documented, with its keys', () => {
    const secrets = documented('Secret');
    const configMaps = documented('ConfigMap');
    const defined = new Set(ofKind('ConfigMap').map((d) => d.doc.metadata.name));
    const seen = new Set<string>();
    for (const { file, doc } of ofKind('Deployment')) {
      const pod = doc.spec.template.spec;
      for (const c of pod.containers) {
        for (const e of c.env ?? []) {
          const ref = e.valueFrom?.secretKeyRef;
          expect(ref, `${file}: env ${e.name} comes from a Secret, never a literal`).toBeDefined();
          expect(secrets.get(ref.name)?.has(ref.key), `${file}: Secret ${ref.name} key ${ref.key} documented`).toBe(
            true,
          );
          seen.add(ref.name);
        }
      }
      for (const v of pod.volumes) {
        if (v.secret) {
          const keys = secrets.get(v.secret.secretName);
          expect(keys, `${file}: Secret ${v.secret.secretName} documented`).toBeDefined();
          for (const item of v.secret.items ?? []) expect(keys!.has(item.key)).toBe(true);
          seen.add(v.secret.secretName);
        }
        if (v.configMap) {
          const name = v.configMap.name;
          expect(defined.has(name) || configMaps.has(name), `${file}: ConfigMap ${name}`).toBe(true);
        }
        expect(
          v.secret || v.configMap || v.emptyDir || v.persistentVolumeClaim,
          `${file}: volume ${v.name}`,
        ).toBeTruthy();
      }
    }
    // Nothing documented that no manifest uses.
    expect([...secrets.keys()].sort()).toEqual([...seen].sort());
  });

  it('agent ConfigMaps validate with resolveAgentConfig; probes, cache and grace period fit the config', async () => {
    for (const site of EXAMPLE_SITES) {
      const name = `ferry-agent-${site}`;
      const cm = ofKind('ConfigMap').find((d) => d.doc.metadata.name === name)!.doc;
      const deploy = ofKind('Deployment').find((d) => d.doc.metadata.name === name)!.doc;
      const pod = deploy.spec.template.spec;
      const c = pod.containers[0];
      const env = fakeEnv(c);
      const configPath = c.args[c.args.indexOf('--config') + 1] as string;
      const mount = c.volumeMounts.find((m: Doc) => configPath.startsWith(`${m.mountPath}/`));
      const configVolume = pod.volumes.find((v: Doc) => v.name === mount.name);
      expect(configVolume.configMap.name).toBe(name);
      const key = configPath.slice(mount.mountPath.length + 1);
      const { parse } = await import('yaml');
      const config = await resolveAgentConfig(parse(cm.data[key]), `${name}/${key}`, env);
      expect(config.site).toBe(site);
      expect(deploy.metadata.labels['app.kubernetes.io/instance']).toBe(site);
      // Secrets the config needs all come from the pod's env.
      expect(config.vsphere.password.reveal()).toBe('fake-ferry_vsphere_password');
      if (config.nats.user) expect(config.nats.password?.reveal()).toBe('fake-ferry_nats_password');
      if (config.store.type === 's3') expect(config.store.secretAccessKey?.reveal()).toBeTruthy();
      if (config.store.type === 'artifactory') expect(config.store.token?.reveal()).toBeTruthy();
      expect(config.nats.inboxPrefix).toBe(`_INBOX.ferry-agent-${site}`);
      // Without the env, the loader refuses (so the env really is what supplies the password).
      await expect(resolveAgentConfig(parse(cm.data[key]), `${name}/${key}`, {})).rejects.toThrow(/vCenter password/);
      // Probes reach the pod IP on the port the agent listens on.
      expect(config.http.listen).toMatch(/^0\.0\.0\.0:/);
      const port = listenPort(config.http.listen);
      expect(c.ports.find((p: Doc) => p.name === 'http').containerPort).toBe(port);
      expect(c.livenessProbe.httpGet).toMatchObject({ path: '/healthz', port });
      expect(c.readinessProbe.httpGet).toMatchObject({ path: '/readyz', port });
      // The cache and the trusted keys live on mounted volumes (the root filesystem is read-only).
      const cacheMount = c.volumeMounts.find((m: Doc) => config.cache.dir.startsWith(m.mountPath));
      expect(cacheMount?.readOnly, `${site}: cache ${config.cache.dir} on a writable volume`).not.toBe(true);
      const cacheVolume = pod.volumes.find((v: Doc) => v.name === cacheMount.name);
      expect(cacheVolume.emptyDir ?? cacheVolume.persistentVolumeClaim).toBeDefined();
      for (const k of config.trust.publicKeys) {
        expect(
          c.volumeMounts.some((m: Doc) => k.startsWith(`${m.mountPath}/`)),
          `${site}: ${k} mounted`,
        ).toBe(true);
      }
      expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(config.jobs.shutdownGraceMs);
    }
  });

  it('the coordinator ConfigMap validates; its Service targets its http port; the signing key is mounted', async () => {
    const cm = ofKind('ConfigMap').find((d) => d.doc.metadata.name === 'ferry-coordinator')!.doc;
    const deploy = ofKind('Deployment').find((d) => d.doc.metadata.name === 'ferry-coordinator')!.doc;
    const c = deploy.spec.template.spec.containers[0];
    expect(c.command).toEqual(['ferry']);
    const { parse } = await import('yaml');
    const config = await resolveCoordinatorConfig(parse(cm.data['coordinator.yaml']), 'coordinator.yaml', fakeEnv(c));
    expect(config.nats.password?.reveal()).toBeTruthy();
    expect(config.http.token?.reveal()).toBeTruthy();
    const port = listenPort(config.http.listen);
    expect(c.ports.find((p: Doc) => p.name === 'http').containerPort).toBe(port);
    expect(c.livenessProbe.httpGet).toMatchObject({ path: '/healthz', port });
    expect(c.volumeMounts.some((m: Doc) => config.signing?.privateKeyFile.startsWith(`${m.mountPath}/`))).toBe(true);
    const svc = ofKind('Service').find((d) => d.doc.metadata.name === 'ferry-coordinator')!.doc;
    for (const [k, v] of Object.entries(svc.spec.selector)) expect(deploy.spec.template.metadata.labels[k]).toBe(v);
    expect(svc.spec.ports[0].targetPort).toBe('http');
  });
});
