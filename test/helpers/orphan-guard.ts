import { readFileSync } from 'node:fs';

/**
 * Set-up file of every test file (vitest.config.ts): a test file whose vitest has died (killed,
 * or cut short by `timeout`) stops too, instead of running on unseen for as long as its test
 * does, with its workers, on a machine others share. `process.ppid` is read once at start in
 * Node 20, and a parent that has died but not yet been reaped still answers `kill(pid, 0)`, so
 * on Linux the parent is read from /proc.
 */
const parent = process.ppid;

function parentIsGone(): boolean {
  try {
    // /proc/self/stat: "pid (comm) state ppid …"; comm may hold spaces and parentheses.
    const stat = readFileSync('/proc/self/stat', 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== parent;
  } catch {
    try {
      process.kill(parent, 0);
      return false;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'ESRCH';
    }
  }
}

// (vitest turns process.exit in a test file into an error.)
setInterval(() => {
  if (parentIsGone()) process.kill(process.pid, 'SIGKILL');
}, 5_000).unref();
