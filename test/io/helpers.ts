// Shared by the tests of test/io and the CLI durability tests.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The full-disk simulation (see enospc-preload.cjs). */
export const enospcPreload = path.join(__dirname, 'enospc-preload.cjs');
export const fullDisk = require('./enospc-preload.cjs') as {
  install(opts?: { after?: number; match?: RegExp; code?: 'ENOSPC' | 'EDQUOT' }): () => void;
};

/** Runs fn with the disk full after `after` bytes of temporary files; restores fs afterwards. */
export function withFullDisk<T>(after: number, fn: () => T, opts: { match?: RegExp; code?: 'ENOSPC' | 'EDQUOT' } = {}): T {
  const undo = fullDisk.install({ after, ...opts });
  try {
    return fn();
  } finally {
    undo();
  }
}

/**
 * A pid that no running process has: above Linux's largest pid_max (2^22), checked with
 * signal 0 (ESRCH: no such process).
 */
export function deadPid(): number {
  for (let pid = 2 ** 22 + 4321; ; pid++) {
    try {
      process.kill(pid, 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ESRCH') return pid;
    }
  }
}

/** The names in dir that look like temporary files. */
export function temps(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'));
}

/** The resident set size in MiB. */
export function rssMiB(): number {
  return process.memoryUsage().rss / 2 ** 20;
}
