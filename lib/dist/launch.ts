// Starting N local ranks of a command through mpirun (`repmlp train --nproc N`): the launcher
// found on the PATH is asked what it is, and given the flags it needs. Open MPI's mpirun
// refuses more ranks than cores without --oversubscribe and any rank as root without
// --allow-run-as-root, and binds each rank to one core (which would put a rank's threads on
// one core), hence --bind-to none; MPICH's (hydra) needs none of these.
import { spawnSync, spawn } from 'node:child_process';
import * as os from 'node:os';
import { RepmlpError } from '../errors';

export const INSTALL_MPI = 'install Open MPI (`apt-get install openmpi-bin libopenmpi-dev`) or MPICH';

export type LauncherKind = 'openmpi' | 'mpich';

/** Which launcher `mpirun` is (from `mpirun --version`); throws naming what to install when there is none. */
export function launcherKind(mpirun = 'mpirun'): LauncherKind {
  const r = spawnSync(mpirun, ['--version'], { encoding: 'utf8' });
  if (r.error) throw new RepmlpError(`train: --nproc starts the ranks with ${mpirun}, which could not be run (${r.error.message}): ${INSTALL_MPI}`);
  const text = `${r.stdout}${r.stderr}`;
  if (/Open MPI|OpenRTE|Open RTE|PRRTE/i.test(text)) return 'openmpi';
  if (/HYDRA|MPICH|Intel\(R\) MPI/i.test(text)) return 'mpich';
  throw new RepmlpError(`train: ${mpirun} --version names neither Open MPI nor MPICH: ${text.trim().split('\n')[0] ?? ''}`);
}

export interface LaunchOptions {
  kind: LauncherKind;
  /** the process runs as root */
  root: boolean;
  /** the machine's cores */
  cores: number;
}

/** mpirun's arguments that start `nproc` ranks of `command` (the program and its arguments). */
export function launchArgs(nproc: number, command: readonly string[], o: LaunchOptions): string[] {
  const flags = o.kind === 'openmpi' ? [...(nproc > o.cores ? ['--oversubscribe'] : []), ...(o.root ? ['--allow-run-as-root'] : []), '--bind-to', 'none'] : [];
  return [...flags, '-np', String(nproc), ...command];
}

/** How a launch ended: mpirun's exit code, and whether a Ctrl-C was passed on to the ranks. */
export interface LaunchResult {
  code: number;
  interrupted: boolean;
}

/**
 * Runs `command` as `nproc` local ranks through mpirun, its output passed through. mpirun
 * runs in a process group of its own, out of the terminal's reach: it would end every rank on
 * Ctrl-C. This process gets the Ctrl-C alone and passes it on as SIGUSR2, which mpirun
 * forwards to every rank (a stop after the step; a second one ends them); SIGTERM and SIGHUP
 * end mpirun's job.
 */
export function launchLocal(nproc: number, command: readonly string[], mpirun = 'mpirun'): Promise<LaunchResult> {
  const kind = launcherKind(mpirun);
  const args = launchArgs(nproc, command, { kind, root: process.getuid?.() === 0, cores: os.availableParallelism() });
  return new Promise((resolve, reject) => {
    const child = spawn(mpirun, args, { stdio: ['ignore', 'inherit', 'inherit'], detached: true });
    let interrupted = false;
    const forwards: [NodeJS.Signals, () => void][] = [
      ['SIGINT', () => (interrupted = child.kill('SIGUSR2') || interrupted)],
      ['SIGTERM', () => child.kill('SIGTERM')],
      ['SIGHUP', () => child.kill('SIGTERM')],
    ];
    for (const [signal, forward] of forwards) process.on(signal, forward);
    const done = () => {
      for (const [signal, forward] of forwards) process.off(signal, forward);
    };
    child.on('error', (e) => {
      done();
      reject(new RepmlpError(`train: could not run ${mpirun}: ${e.message}`));
    });
    child.on('exit', (code, signal) => {
      done();
      resolve({ code: code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 1), interrupted });
    });
  });
}
