import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

// Readings from /proc, so a benchmark can account for processes it did not start (the
// machine's MariaDB, Redis and Mosquitto) the same way as its own.

/** User and system CPU seconds in a /proc `stat` file, of a process or of one of its threads. */
function statSeconds(path: string): { user: number; system: number } {
  const stat = readFileSync(path, 'utf8');
  // The fields after the command name (which may hold spaces); utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 };
}

/** CPU seconds (user + system) a process has used so far; 0 once it is gone. */
export function processCpuSeconds(pid: number): number {
  try {
    const { user, system } = statSeconds(`/proc/${pid}/stat`);
    return user + system;
  } catch {
    return 0;
  }
}

/** A process's CPU seconds by thread: its main thread's user and system time, and all the others. */
export interface ThreadCpu {
  mainUser: number;
  mainSystem: number;
  others: number;
}

/**
 * What `process.cpuUsage()` counts as one, split by thread: the main thread, and the rest (V8's
 * garbage-collector and compiler helpers, libuv's pool). A thread that ends in between drops out
 * of `others`, so only roughly. Null where /proc cannot be read.
 */
export function threadCpuSeconds(pid: number): ThreadCpu | null {
  try {
    const split: ThreadCpu = { mainUser: 0, mainSystem: 0, others: 0 };
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const { user, system } = statSeconds(`/proc/${pid}/task/${tid}/stat`);
      if (Number(tid) === pid) {
        split.mainUser += user;
        split.mainSystem += system;
      } else {
        split.others += user + system;
      }
    }
    return split;
  } catch {
    return null;
  }
}

/** Busy CPU seconds of the whole machine so far (all cores; idle and iowait excluded). */
export function machineBusySeconds(): number {
  try {
    const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
    const [user, nice, system, , , irq, softirq, steal] = fields.map(Number);
    return (user! + nice! + system! + irq! + softirq! + steal!) / 100;
  } catch {
    return Number.NaN;
  }
}

/** Pids of the processes whose executable name is exactly `name`. */
export function pidsOf(name: string): number[] {
  try {
    return execFileSync('pgrep', ['-x', name], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Resident set size of a process in MiB; NaN once it is gone. */
export function rssMiB(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}
