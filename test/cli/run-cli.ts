// Shared by the CLI tests: run the command line in-process with its output captured, or in a
// process of its own (exit codes, signals), and the scratch files the commands read.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { main } from '../../lib/cli';
import type { Io } from '../../lib/cli/command';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `repmlp <args>` through main() and returns its exit code and output. */
export async function runCli(args: string[]): Promise<CliRun> {
  const io: Io & { stdout: string; stderr: string } = {
    stdout: '', stderr: '', out: (t) => void (io.stdout += t), err: (t) => void (io.stderr += t),
  };
  const code = await main(args, io);
  return { code, stdout: io.stdout, stderr: io.stderr };
}

/** A fresh folder `repmlp-<name>-…` in the system's temporary one. */
export function scratchDir(name: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `repmlp-${name}-`));
}

/** Writes value as JSON to dir/file and returns that path. */
export function writeJson(dir: string, file: string, value: unknown): string {
  const p = path.join(dir, file);
  fs.writeFileSync(p, JSON.stringify(value));
  return p;
}

/** The repository root, where `lib/cli.ts` runs from. */
export const ROOT = path.join(__dirname, '..', '..');

export interface ProcessOptions {
  /** files to load with -r before the CLI (e.g. a test's fs patch) */
  preload?: string[];
  /** added to the environment */
  env?: Record<string, string>;
}

const cliArgv = (args: string[], o: ProcessOptions) => ['-r', 'tsx/cjs', ...(o.preload ?? []).flatMap((f) => ['-r', f]), 'lib/cli.ts', ...args];

/** Runs `repmlp <args>` in a new process; its exit code, output and wall time. */
export function runCliProcess(args: string[], o: ProcessOptions = {}): CliRun & { seconds: number } {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, cliArgv(args, o), { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...o.env } });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, seconds: (Date.now() - t0) / 1000 };
}

/**
 * Starts `repmlp <args>` in a new process, sends it SIGINT once its stdout matches `when`, and
 * resolves with its exit code and output.
 */
export function interruptCli(args: string[], when: RegExp): Promise<CliRun> {
  const child = spawn(process.execPath, cliArgv(args, {}), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '', sent = false;
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    if (!sent && when.test(stdout)) sent = child.kill('SIGINT');
  });
  child.stderr.on('data', (d: Buffer) => void (stderr += d.toString()));
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code: code ?? (signal === 'SIGINT' ? 130 : -1), stdout, stderr })));
}
