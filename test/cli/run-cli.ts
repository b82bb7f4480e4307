// Shared by the CLI tests: run the command line in-process with its output captured.
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
