// Running test fixtures as the ranks of an MPI world (the tests of test/dist). MPI is part
// of what these tests check, so a machine without it fails them, saying what to install
// (CI installs it: .ci/run).
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import * as assert from 'uvu/assert';
import { launchArgs, launcherKind, INSTALL_MPI } from '../../lib/dist/launch';
import { distributedEngines } from '../../lib/dist/world';

export interface RankRun {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** Throws, saying what to install, unless mpirun and an MPI library are there. */
export function requireMpi(): void {
  const mpi = distributedEngines().mpi;
  if (!mpi.found) throw new Error(`the distributed tests need MPI, which was not found (${mpi.tried.length} places tried): ${INSTALL_MPI}`);
  launcherKind();  // throws when there is no mpirun
}

/** The command that runs a TypeScript file of the repository with node and tsx. */
export function tsxCommand(file: string, args: string[]): string[] {
  return [process.execPath, '--require', require.resolve('tsx/cjs'), path.resolve(file), ...args];
}

/**
 * Fails unless every rank of `r` exited by itself: mpirun is killed after its timeout
 * otherwise. No wall-time bound, which a loaded machine's slow start of the ranks can exceed.
 */
export function assertExitedByItself(r: RankRun): void {
  assert.ok(r.code !== null, `mpirun was killed after ${r.seconds} s: the ranks did not stop`);
}

/** Runs `command` as `np` local ranks through mpirun (killed after timeoutSeconds). */
export function mpirun(np: number, command: string[], opts: { env?: NodeJS.ProcessEnv; timeoutSeconds?: number } = {}): RankRun {
  const args = launchArgs(np, command, { kind: launcherKind(), root: process.getuid?.() === 0, cores: os.availableParallelism() });
  const t0 = Date.now();
  const r = spawnSync('mpirun', args, { encoding: 'utf8', env: { ...process.env, ...opts.env }, timeout: (opts.timeoutSeconds ?? 180) * 1000 });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', seconds: (Date.now() - t0) / 1000 };
}

/** The JSON lines of a run's output. */
export function jsonLines<T>(out: string): T[] {
  return out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as T);
}
