// Ctrl-C (SIGINT) while a long command runs: the first asks the command to stop at its next
// safe point (train: after the step, with last.safetensors saved; predict: after the batch),
// so that the loaders' worker threads are closed and locks released; a second ends the
// process at once. Commands stopped this way exit with 130, as a shell reports SIGINT. The
// ranks of a distributed run take SIGUSR2 as well, which mpirun passes on to them (train.ts).
import type { Io } from './command';

/** The exit code of a command stopped by Ctrl-C. */
export const INTERRUPTED = 130;

/**
 * Runs `fn` with SIGINT (or any of `signals`) turned into a request to stop: `interrupted()`
 * is true once one came; `what` says on stderr what happens then.
 */
export async function withInterrupt<T>(io: Io, what: string, fn: (interrupted: () => boolean) => Promise<T>, signals: readonly NodeJS.Signals[] = ['SIGINT']): Promise<T> {
  let count = 0;
  const onSignal = () => {
    if (++count > 1) process.exit(INTERRUPTED);
    io.err(`\nrepmlp: interrupted: ${what} (Ctrl-C again to quit at once)\n`);
  };
  for (const s of signals) process.on(s, onSignal);
  try {
    return await fn(() => count > 0);
  } finally {
    for (const s of signals) process.off(s, onSignal);
  }
}
