// The distributed world this process belongs to: initDistributed() joins the one an MPI
// launcher started (mpirun -np N, mpiexec, srun with PMI), or makes a world of this process
// alone; world() says where the process stands (rank 0 of 1 before any init). The engines
// are opened at run time (native/dist/mpi.h, native/cuda/nccl.h): MPI for CPU tensors,
// NCCL for CUDA tensors.
//
// Leaving: a process that exits with code 0 leaves the world (MPI_Finalize, from an 'exit'
// handler); one that exits otherwise (an error, an uncaught exception) aborts every rank, so
// that no rank waits for it. A collective that does not complete within the timeout aborts
// every rank too (the native watchdog).
import { describe, fail } from '../errors';
import { native, type DistEngines, type NativeWorld } from '../native';

const OP = 'initDistributed';

/** Where this process stands in the distributed world. */
export type World = Omit<NativeWorld, 'initialized' | 'finalized'>;

export interface DistributedOptions {
  /**
   * 'auto' (the default): MPI when an MPI launcher started this process (launcherVariable()),
   * else a world of this process alone; 'mpi': MPI in any case (an error names what to
   * install when it is missing); 'local': this process alone.
   */
  engine?: 'auto' | 'mpi' | 'local';
  /**
   * Seconds a collective may wait for the other ranks before every rank is aborted (a rank
   * failed or hangs). Default: REPMLP_DIST_TIMEOUT, else 600; 0 waits for ever.
   */
  timeoutSeconds?: number;
}

/**
 * Variables the MPI launchers set in each process they start: Open MPI's mpirun, MPICH's
 * and Intel MPI's mpiexec (hydra) and srun --mpi=pmi2 (PMI), srun --mpi=pmix and PRRTE (PMIx).
 */
export const LAUNCHER_VARIABLES = ['OMPI_COMM_WORLD_SIZE', 'PMI_SIZE', 'PMIX_RANK'] as const;

/** The launcher variable set in env (the process was started by an MPI launcher), or null. */
export function launcherVariable(env: NodeJS.ProcessEnv = process.env): string | null {
  return LAUNCHER_VARIABLES.find((v) => env[v] !== undefined && env[v] !== '') ?? null;
}

const DEFAULT_TIMEOUT = 600;

/** REPMLP_DIST_TIMEOUT in seconds, or the default. */
export function timeoutFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.REPMLP_DIST_TIMEOUT;
  if (v === undefined || v === '') return DEFAULT_TIMEOUT;
  if (!/^\d+(\.\d+)?$/.test(v)) fail(OP, 'REPMLP_DIST_TIMEOUT', 'a number of seconds >= 0 (0: no limit)', `'${v}'`);
  return Number(v);
}

function publicWorld(w: NativeWorld): World {
  const { initialized: _i, finalized: _f, ...rest } = w;
  return rest;
}

let leaveHooked = false;

// Leaves the world when the process exits with code 0; any other exit aborts every rank (natively, at exit).
function leaveAtExit(): void {
  if (leaveHooked) return;
  leaveHooked = true;
  process.once('exit', (code) => {
    if (code !== 0) return;
    try {
      native.distFinalize();
    } catch (e) {
      process.stderr.write(`repmlp: leaving the distributed world failed: ${(e as Error).message}\n`);
      process.exitCode = 1;
    }
  });
}

/**
 * Joins the distributed world (idempotent: a second call returns the same world). Call it
 * before creating CUDA tensors: a rank takes CUDA device localRank modulo the devices.
 */
export function initDistributed(opts: DistributedOptions = {}): World {
  if (typeof opts !== 'object' || opts === null) fail(OP, 'options', 'an object', describe(opts));
  const requested = opts.engine ?? 'auto';
  if (requested !== 'auto' && requested !== 'mpi' && requested !== 'local') fail(OP, 'engine', "'auto', 'mpi' or 'local'", describe(requested));
  const timeoutSeconds = opts.timeoutSeconds ?? timeoutFromEnv();
  if (typeof timeoutSeconds !== 'number' || !(timeoutSeconds >= 0) || !Number.isFinite(timeoutSeconds))
    fail(OP, 'timeoutSeconds', 'a finite number of seconds >= 0', describe(timeoutSeconds));
  const engine = requested === 'auto' ? (launcherVariable() ? 'mpi' : 'local') : requested;
  const w = native.distInit({ engine, timeoutSeconds });
  if (w.engine === 'mpi') leaveAtExit();
  return publicWorld(w);
}

/** The world as it stands: rank 0 of 1 until initDistributed() joins a larger one. */
export function world(): World {
  return publicWorld(native.distWorld());
}

/** True on rank 0 (and in a world of one): the rank that logs and writes files. */
export function isRank0(): boolean {
  return native.distWorld().rank === 0;
}

/** Leaves the world now (MPI_Finalize, collective); later collectives are refused. */
export function finalizeDistributed(): void {
  native.distFinalize();
}

/**
 * Stops every rank: writes `message` to stderr with this rank's number and exits with `code`,
 * which, unless the world was left, aborts every rank (MPI_Abort).
 */
export function abortDistributed(message: string, code = 1): never {
  const w = native.distWorld();
  process.stderr.write(w.size > 1 ? `repmlp: rank ${w.rank} of ${w.size}: ${message}\n` : `${message}\n`);
  process.exit(code);
}

/** Which engines this installation can use, and where they were found (nothing is initialised). */
export function distributedEngines(): DistEngines {
  return native.distInfo();
}
