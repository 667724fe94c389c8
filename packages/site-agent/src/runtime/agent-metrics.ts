import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The agent's Prometheus metrics, on a registry of its own (several agents may share a process in tests). */
export class AgentMetrics {
  readonly registry = new Registry();
  readonly bytesDownloaded = new Counter({
    name: 'ferry_bytes_downloaded_total',
    help: 'Bytes read from the zone store into the cache (completed downloads)',
    registers: [this.registry],
  });
  readonly bytesImported = new Counter({
    name: 'ferry_bytes_imported_total',
    help: 'Bytes uploaded to the Content Library (completed imports)',
    registers: [this.registry],
  });
  readonly imports = new Counter({
    name: 'ferry_imports_total',
    help: 'Import jobs finished, by result (ready, skipped, failed)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly checksumFailures = new Counter({
    name: 'ferry_checksum_failures_total',
    help: 'Downloads or OVA entries whose size or hash did not match',
    registers: [this.registry],
  });
  readonly eventsRejected = new Counter({
    name: 'ferry_events_rejected_total',
    help: 'Events terminated as bad (not JSON, schema, signature, rollback), by code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly eventsReceived = new Counter({
    name: 'ferry_events_received_total',
    help: 'Events received, by kind',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly siteImports = new Counter({
    name: 'ferry_site_imports_total',
    help: 'Import jobs finished, by site (target) and result (ready, skipped, failed)',
    labelNames: ['site', 'result'] as const,
    registers: [this.registry],
  });
  readonly jobDuration = new Histogram({
    name: 'ferry_job_duration_seconds',
    help: 'Duration of import jobs from start to ready or failed',
    labelNames: ['result'] as const,
    buckets: [1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 12 * 3600],
    registers: [this.registry],
  });

  constructor(gauges: {
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
  }) {
    new Gauge({
      name: 'ferry_queue_depth',
      help: 'Transfers waiting or running',
      registers: [this.registry],
      collect() {
        this.set(gauges.queueDepth());
      },
    });
    new Gauge({
      name: 'ferry_transfers_active',
      help: 'Transfers running now, by kind',
      labelNames: ['kind'] as const,
      registers: [this.registry],
      collect() {
        this.set({ kind: 'download' }, gauges.activeDownloads());
        this.set({ kind: 'import' }, gauges.activeImports());
      },
    });
    new Gauge({
      name: 'ferry_transfers_peak',
      help: 'Most transfers running at once since the agent started, by kind (checks the concurrency limits)',
      labelNames: ['kind'] as const,
      registers: [this.registry],
      collect() {
        const peak = gauges.peak();
        this.set({ kind: 'download' }, peak.downloads);
        this.set({ kind: 'import' }, peak.imports);
      },
    });
    new Gauge({
      name: 'ferry_site_suspended',
      help: '1 while the site (target) is suspended',
      labelNames: ['site'] as const,
      registers: [this.registry],
      collect() {
        for (const s of gauges.sites?.() ?? []) this.set({ site: s.site }, s.suspended ? 1 : 0);
      },
    });
    new Gauge({
      name: 'ferry_site_jobs_running',
      help: 'Jobs of the site (target) downloading or importing now',
      labelNames: ['site'] as const,
      registers: [this.registry],
      collect() {
        for (const s of gauges.sites?.() ?? []) this.set({ site: s.site }, s.running);
      },
    });
    new Gauge({
      name: 'ferry_bandwidth_limit_bytes_per_second',
      help: 'Configured bandwidth limits (absent: unlimited), by scope (agent or a site) and direction',
      labelNames: ['scope', 'direction'] as const,
      registers: [this.registry],
      collect() {
        for (const b of gauges.bandwidth?.() ?? []) {
          this.set({ scope: b.scope, direction: b.direction }, b.bytesPerSecond);
        }
      },
    });
    new Gauge({
      name: 'ferry_suspended',
      help: '1 while a site of the agent is suspended',
      registers: [this.registry],
      collect() {
        this.set(gauges.suspended() ? 1 : 0);
      },
    });
  }
}
