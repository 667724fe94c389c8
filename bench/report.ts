import type { BenchResults } from './run.js';

export function renderMarkdown(r: BenchResults): string {
  return JSON.stringify(r);
}
