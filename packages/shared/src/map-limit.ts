/** Maps with at most `limit` calls in flight; results keep the input order. */
export async function mapLimit<T, R>(input: readonly T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(input.length);
  let next = 0;
  const worker = async () => {
    while (next < input.length) {
      const i = next++;
      out[i] = await fn(input[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, input.length) }, worker));
  return out;
}
