// Shared by the CLI tests: run the command line in-process with its output captured, and
// the scratch files the commands read.
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
