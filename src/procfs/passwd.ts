import { readFileSync } from 'node:fs';

/*
 * /etc/passwd (passwd(5)): name:password:uid:gid:gecos:home:shell
 *
 *   root:x:0:0:root:/root:/bin/bash
 *
 * Read from <procfs>/1/root/etc/passwd first, so that in a container with hostPID the host's
 * users are named, then from /etc/passwd.
 */
export function parsePasswd(text: string): Map<number, string> {
  const users = new Map<number, string>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(':');
    const name = fields[0];
    const uid = Number(fields[2]);
    if (name && fields.length >= 3 && Number.isInteger(uid) && !users.has(uid)) users.set(uid, name);
  }
  return users;
}

/** uid -> user name, re-reading the file at most once a minute when an unknown uid shows up. */
export class UserNames {
  private users = new Map<number, string>();
  private loadedAt = -Infinity;

  constructor(private readonly paths: readonly string[]) {}

  name(uid: number): string {
    let name = this.users.get(uid);
    if (name === undefined && Date.now() - this.loadedAt > 60_000) {
      this.load();
      name = this.users.get(uid);
    }
    return name ?? String(uid);
  }

  private load(): void {
    this.loadedAt = Date.now();
    for (const path of this.paths) {
      try {
        this.users = parsePasswd(readFileSync(path, 'utf8'));
        return;
      } catch {
        // not readable here (no ptrace access to pid 1, no file): try the next
      }
    }
  }
}
