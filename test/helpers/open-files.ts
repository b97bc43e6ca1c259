/**
 * The files this process holds open under a directory, from /proc/self/fd, with their open
 * flags (from /proc/self/fdinfo): for tests of who holds which segment files, and how.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

export interface OpenFile {
  path: string;
  /** open(2) flags, e.g. `flags & 3` is the access mode (2 = O_RDWR). */
  flags: number;
}

export function openFilesUnder(dir: string): OpenFile[] {
  const files: OpenFile[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const path = readlinkSync(`/proc/self/fd/${fd}`);
      if (!path.startsWith(`${dir}/`)) continue;
      const flags = Number.parseInt(
        /flags:\s+(\d+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!,
        8,
      );
      files.push({ path, flags });
    } catch {
      // The descriptor closed while it was being looked at (readdir's own, say).
    }
  }
  return files;
}
