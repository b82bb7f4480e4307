// Ctrl-C (SIGINT) while a long command runs: the first asks the command to stop at its next
// safe point (train: after the step, with last.safetensors saved; predict: after the batch),
// so that the loaders' worker threads are closed and locks released; a second ends the
// process at once. Commands stopped this way exit with 130, as a shell reports SIGINT.
import type { Io } from './command';

/** The exit code of a command stopped by Ctrl-C. */
export const INTERRUPTED = 130;

/**
 * Runs `fn` with SIGINT turned into a request to stop: `interrupted()` is true once one came;
 * `what` says on stderr what happens then.
 */
export async function withInterrupt<T>(io: Io, what: string, fn: (interrupted: () => boolean) => Promise<T>): Promise<T> {
  let signals = 0;
  const onSignal = () => {
    if (++signals > 1) process.exit(INTERRUPTED);
    io.err(`\nrepmlp: interrupted: ${what} (Ctrl-C again to quit at once)\n`);
  };
  process.on('SIGINT', onSignal);
  try {
    return await fn(() => signals > 0);
  } finally {
    process.off('SIGINT', onSignal);
  }
}
