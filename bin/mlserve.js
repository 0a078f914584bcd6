#!/usr/bin/env node
// The only process exit point: run main(argv) and set the exit code. A first Ctrl-C aborts the
// running operation (which cleans up and exits 130); a second one exits at once.
import { main } from '../dist/cli/main.js';
import { processIO } from '../dist/cli/io.js';

const controller = new AbortController();
process.on('SIGINT', () => {
  if (controller.signal.aborted) process.exit(130);
  controller.abort();
});
// `mlserve --help | head` closes the pipe early: stop quietly, as a Unix tool does, not with a trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code !== 'EPIPE') throw error;
    process.exit(process.exitCode ?? 0);
  });
}
process.exitCode = await main(process.argv.slice(2), processIO(controller.signal));
