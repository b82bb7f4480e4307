// Whether a process id belongs to a running process on this machine (for stale lock and
// temporary files). Signal 0 checks without signalling: ESRCH means no such process, EPERM
// means it exists but belongs to another user.

export function isProcessAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid < 1) return false; // 0 and negatives name process groups, never one process
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}
