/**
 * scripts/setup.sh's reading of apt's sources (scripts/lib/apt-sources.sh), on fixtures of both formats Debian
 * writes: the one-line sources.list of the installer and debootstrap, and deb822 files of cloud images. No root
 * needed: the functions take apt's directory as an argument.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../..');
const lib = join(root, 'scripts/lib/apt-sources.sh');

/** An apt directory with the given files (paths relative to it). */
function aptDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'reprise-apt-'));
  mkdirSync(join(dir, 'sources.list.d'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/** Runs a function of the library under `set -euo pipefail`, as setup.sh does; returns stdout and the status. */
function sh(script: string): { out: string; status: number | null; err: string } {
  const r = spawnSync('bash', ['-c', `set -Eeuo pipefail; source '${lib}'; ${script}`], { encoding: 'utf8' });
  return { out: r.stdout, status: r.status, err: r.stderr };
}

const ONE_LINE = `# deb cdrom:[Debian GNU/Linux 12.5.0 _Bookworm_ - Official amd64 DVD]/ bookworm main
deb http://ftp.fr.debian.org/debian/ bookworm main non-free-firmware
deb-src http://ftp.fr.debian.org/debian/ bookworm main non-free-firmware
deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://security.debian.org/debian-security bookworm-security main
# deb http://ftp.fr.debian.org/debian/ bookworm-backports main
`;

const DEB822 = `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://mirror.example.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
`;

describe('setup: apt sources', () => {
  it('reads the suites of a classic one-line sources.list with no sources.list.d files', () => {
    const dir = aptDir({ 'sources.list': ONE_LINE });
    expect(sh(`apt_suites '${dir}'`).out.trim().split('\n')).toEqual([
      'http://ftp.fr.debian.org/debian/ bookworm',
      'http://security.debian.org/debian-security bookworm-security',
    ]);
    // The commented-out backports line does not count.
    expect(sh(`apt_has_suite '${dir}' bookworm-backports`).status).toBe(1);
    expect(sh(`apt_debian_mirror '${dir}' bookworm`).out).toBe('http://ftp.fr.debian.org/debian/\n');
  });

  it('reads deb822 sources with several suites, comments and no sources.list', () => {
    const dir = aptDir({ 'sources.list.d/debian.sources': DEB822 });
    expect(sh(`apt_suites '${dir}'`).out.trim().split('\n')).toEqual([
      'http://mirror.example.org/debian bookworm',
      'http://mirror.example.org/debian bookworm-updates',
      'http://deb.debian.org/debian-security bookworm-security',
    ]);
    expect(sh(`apt_debian_mirror '${dir}' bookworm`).out).toBe('http://mirror.example.org/debian\n');
    expect(sh(`apt_has_suite '${dir}' bookworm-backports`).status).toBe(1);
  });

  it('sees backports already configured in either format, but not a disabled stanza', () => {
    const oneLine = aptDir({
      'sources.list': `${ONE_LINE}deb http://deb.debian.org/debian bookworm-backports main\n`,
    });
    expect(sh(`apt_has_suite '${oneLine}' bookworm-backports`).status).toBe(0);
    const listD = aptDir({
      'sources.list.d/backports.list': 'deb http://deb.debian.org/debian bookworm-backports main\n',
    });
    expect(sh(`apt_has_suite '${listD}' bookworm-backports`).status).toBe(0);
    const continued = aptDir({
      'sources.list.d/debian.sources':
        'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm\n  bookworm-backports\nComponents: main\n',
    });
    expect(sh(`apt_has_suite '${continued}' bookworm-backports`).status).toBe(0);
    const disabled = aptDir({
      'sources.list.d/bp.sources':
        'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nEnabled: no\n',
    });
    expect(sh(`apt_has_suite '${disabled}' bookworm-backports`).status).toBe(1);
  });

  it('falls back to the main Debian mirror when apt has no sources at all', () => {
    const empty = aptDir({});
    expect(sh(`apt_suites '${empty}'`)).toMatchObject({ status: 0, out: '' });
    expect(sh(`apt_debian_mirror '${empty}' bookworm`).out).toBe('http://deb.debian.org/debian\n');
  });

  it('writes a stanza that it then reads back as configured (a second setup run adds nothing)', () => {
    for (const files of <Record<string, string>[]>[
      { 'sources.list': ONE_LINE },
      { 'sources.list.d/debian.sources': DEB822 },
    ]) {
      const dir = aptDir(files);
      const mirror = sh(`apt_debian_mirror '${dir}' bookworm`).out.trim();
      const file = join(dir, 'sources.list.d/reprise-backports.sources');
      writeFileSync(file, sh(`apt_suite_stanza '${mirror}' bookworm-backports /nonexistent.gpg`).out);
      expect(readFileSync(file, 'utf8')).toBe(
        `Types: deb\nURIs: ${mirror}\nSuites: bookworm-backports\nComponents: main\n`,
      );
      expect(sh(`apt_has_suite '${dir}' bookworm-backports`).status).toBe(0);
      expect(sh(`apt_suites '${dir}'`).out).toContain(`${mirror} bookworm-backports`);
    }
  });

  it('the setup scripts parse, and are shellcheck-clean where Debian’s shellcheck is installed', () => {
    execFileSync('bash', ['-n', join(root, 'scripts/setup.sh')]);
    execFileSync('bash', ['-n', lib]);
    const shellcheck = spawnSync('shellcheck', ['--version']);
    if (shellcheck.error) {
      console.warn('shellcheck not installed (apt-get install shellcheck): only bash -n was checked');
      return;
    }
    const r = spawnSync('shellcheck', ['-x', 'scripts/setup.sh', 'scripts/lib/apt-sources.sh'], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(r.stdout, r.stdout).toBe('');
    expect(r.status).toBe(0);
  });
});
