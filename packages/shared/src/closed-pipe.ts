/**
 * `ferry status | head -1`: the reader closes the pipe early. That is not an error of ferry's, so
 * the process exits quietly (status 0) instead of printing an EPIPE stack trace. Other stream
 * errors are rethrown as before.
 */
export function exitQuietlyOnClosedPipe(streams: NodeJS.WriteStream[] = [process.stdout, process.stderr]): void {
  for (const stream of streams) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(0);
      throw err;
    });
  }
}
