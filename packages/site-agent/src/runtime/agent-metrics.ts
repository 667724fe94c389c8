import { Counter, Gauge, Histogram, type LabelValues, Registry } from 'prom-client';

/** What the agent's gauges read when scraped. */
export interface AgentGauges {
  queueDepth: () => number;
  activeDownloads: () => number;
  activeImports: () => number;
  /** Most transfers ever running at once since start, by kind (the queues' high-water mark). */
  peak: () => { downloads: number; imports: number };
  suspended: () => boolean;
  /** Per site of the zone: suspended, jobs running. */
  sites?: () => Array<{ site: string; suspended: boolean; running: number }>;
  /** Configured limits in bytes/s: scope `agent` or a site, direction `store` or `vcenter`. */
  bandwidth?: () => Array<{ scope: string; direction: 'store' | 'vcenter'; bytesPerSecond: number }>;
  /** OVAs proven since start: hashed entry by entry, or reused (proven before for another target). */
  ovaProofs?: () => { hashed: number; reused: number };
}

type Samples = Array<[labels: LabelValues<string>, value: number]>;

/** One gauge: its labels and the samples it reads from the agent at each scrape. */
interface GaugeSpec {
  name: string;
  help: string;
  labelNames?: readonly string[];
  samples: (g: AgentGauges) => Samples;
}

/** Transfers by kind. */
function kinds(downloads: number, imports: number): Samples {
  return [
    [{ kind: 'download' }, downloads],
    [{ kind: 'import' }, imports],
  ];
}

const GAUGES: readonly GaugeSpec[] = [
  { name: 'ferry_queue_depth', help: 'Transfers waiting or running', samples: (g) => [[{}, g.queueDepth()]] },
  {
    name: 'ferry_transfers_active',
    help: 'Transfers running now, by kind',
    labelNames: ['kind'],
    samples: (g) => kinds(g.activeDownloads(), g.activeImports()),
  },
  {
    name: 'ferry_transfers_peak',
    help: 'Most transfers running at once since the agent started, by kind (checks the concurrency limits)',
    labelNames: ['kind'],
    samples: (g) => {
      const peak = g.peak();
      return kinds(peak.downloads, peak.imports);
    },
  },
  {
    name: 'ferry_site_suspended',
    help: '1 while the site (target) is suspended',
    labelNames: ['site'],
    samples: (g) => (g.sites?.() ?? []).map((s) => [{ site: s.site }, s.suspended ? 1 : 0]),
  },
  {
    name: 'ferry_site_jobs_running',
    help: 'Jobs of the site (target) downloading or importing now',
    labelNames: ['site'],
    samples: (g) => (g.sites?.() ?? []).map((s) => [{ site: s.site }, s.running]),
  },
  {
    name: 'ferry_bandwidth_limit_bytes_per_second',
    help: 'Configured bandwidth limits (absent: unlimited), by scope (agent or a site) and direction',
    labelNames: ['scope', 'direction'],
    samples: (g) => (g.bandwidth?.() ?? []).map((b) => [{ scope: b.scope, direction: b.direction }, b.bytesPerSecond]),
  },
  {
    name: 'ferry_ova_proofs',
    help: 'OVA proofs since the agent started, by how: hashed (every entry) or reused (the zone proved the same bytes before)',
    labelNames: ['how'],
    samples: (g) => {
      const p = g.ovaProofs?.() ?? { hashed: 0, reused: 0 };
      return [
        [{ how: 'hashed' }, p.hashed],
        [{ how: 'reused' }, p.reused],
      ];
    },
  },
  {
    name: 'ferry_suspended',
    help: '1 while a site of the agent is suspended',
    samples: (g) => [[{}, g.suspended() ? 1 : 0]],
  },
];

/** A counter: its metric and, when it has them, its labels. */
interface CounterSpec {
  name: string;
  help: string;
  labelNames?: readonly string[];
}

/** The agent's counters, by the field that names each in AgentMetrics. */
const COUNTERS = {
  bytesDownloaded: {
    name: 'ferry_bytes_downloaded_total',
    help: 'Bytes read from the zone store into the cache (completed downloads)',
  },
  bytesImported: {
    name: 'ferry_bytes_imported_total',
    help: 'Bytes uploaded to the Content Library (completed imports)',
  },
  imports: {
    name: 'ferry_imports_total',
    help: 'Import jobs finished, by result (ready, skipped, failed)',
    labelNames: ['result'],
  },
  checksumFailures: {
    name: 'ferry_checksum_failures_total',
    help: 'Downloads or OVA entries whose size or hash did not match',
  },
  eventsRejected: {
    name: 'ferry_events_rejected_total',
    help: 'Events terminated as bad (not JSON, schema, signature, rollback), by code',
    labelNames: ['code'],
  },
  eventsReceived: { name: 'ferry_events_received_total', help: 'Events received, by kind', labelNames: ['kind'] },
  siteImports: {
    name: 'ferry_site_imports_total',
    help: 'Import jobs finished, by site (target) and result (ready, skipped, failed)',
    labelNames: ['site', 'result'],
  },
} as const satisfies Record<string, CounterSpec>;

type LabelsOf<S> = S extends { labelNames: readonly (infer L extends string)[] } ? L : string;
type Counters = { readonly [K in keyof typeof COUNTERS]: Counter<LabelsOf<(typeof COUNTERS)[K]>> };

/** The agent's Prometheus metrics, on a registry of its own (several agents may share a process in tests). */
export type AgentMetrics = Counters & { readonly registry: Registry; readonly jobDuration: Histogram<'result'> };

export function createAgentMetrics(gauges: AgentGauges): AgentMetrics {
  const registry = new Registry();
  const registers = [registry];
  const counters = Object.fromEntries(
    Object.entries(COUNTERS as Record<string, CounterSpec>).map(([field, { name, help, labelNames = [] }]) => [
      field,
      new Counter({ name, help, labelNames, registers }),
    ]),
  ) as Counters;
  const jobDuration = new Histogram({
    name: 'ferry_job_duration_seconds',
    help: 'Duration of import jobs from start to ready or failed',
    labelNames: ['result'] as const,
    buckets: [1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 12 * 3600],
    registers,
  });
  for (const spec of GAUGES) {
    new Gauge({
      name: spec.name,
      help: spec.help,
      labelNames: spec.labelNames ?? [],
      registers,
      collect() {
        for (const [labels, value] of spec.samples(gauges)) this.set(labels, value);
      },
    });
  }
  return { registry, ...counters, jobDuration };
}
