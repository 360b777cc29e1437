import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createReadStream, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createBrotliDecompress } from 'node:zlib';
import { chromium, type Browser } from 'playwright-core';

/**
 * The browser for the browser tests arrives with `npm ci`: the `@sparticuz/chromium` package ships a
 * headless Chromium for Linux x64 as brotli files, with the few shared libraries it needs that a bare
 * Debian lacks (NSS, NSPR, expat). They are decompressed once per package version to a directory
 * under the temporary directory and reused; nothing is downloaded. Debian's `chromium` is the
 * fallback where that build cannot run (another platform, a glibc older than 2.34).
 */
const execFileP = promisify(execFile);
const DEBIAN_CHROMIUM = '/usr/bin/chromium';

const ARGS = ['--no-sandbox', '--no-zygote', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

interface PackagedChromium {
  executablePath: string;
  env: Record<string, string>;
}

function packageBin(): { version: string; bin: string } {
  const require = createRequire(import.meta.url);
  // The package exports only its code (build/cjs/index.cjs); its root is two levels up.
  const root = dirname(dirname(dirname(require.resolve('@sparticuz/chromium'))));
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  return { version, bin: join(root, 'bin') };
}

async function unbrotli(from: string, to: string, mode: number): Promise<void> {
  await pipeline(createReadStream(from), createBrotliDecompress({ chunkSize: 2 ** 21 }), createWriteStream(to, { mode }));
}

/** Decompress a `.tar.br` into `dir` with the system's tar (part of every Linux base system). */
async function untarBrotli(from: string, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const tarFile = `${dir}.tar`;
  await unbrotli(from, tarFile, 0o600);
  try {
    await execFileP('tar', ['-x', '-f', tarFile, '-C', dir]);
  } finally {
    rmSync(tarFile, { force: true });
  }
}

/**
 * The packaged Chromium, decompressed into `<tmp>/qb-chromium-<version>-<uid>` (atomically: a parallel
 * test run either finds it complete or renames its own copy into place).
 */
export async function packagedChromium(): Promise<PackagedChromium> {
  const { version, bin } = packageBin();
  const dir = join(tmpdir(), `qb-chromium-${version}-${process.getuid?.() ?? 0}`);
  const env = (d: string): PackagedChromium => ({
    executablePath: join(d, 'chromium'),
    env: { LD_LIBRARY_PATH: join(d, 'al2023', 'lib'), FONTCONFIG_FILE: join(d, 'fonts.conf') },
  });
  if (existsSync(join(dir, 'complete'))) return env(dir);
  const work = mkdtempSync(join(tmpdir(), 'qb-chromium-unpack-'));
  try {
    await Promise.all([
      unbrotli(join(bin, 'chromium.br'), join(work, 'chromium'), 0o755),
      untarBrotli(join(bin, 'al2023.tar.br'), join(work, 'al2023')), // lib/: NSS, NSPR, expat
      untarBrotli(join(bin, 'fonts.tar.br'), join(work, 'fontpack')),
    ]);
    writeFileSync(
      join(work, 'fonts.conf'),
      `<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n  <dir>${join(dir, 'fontpack', 'fonts')}</dir>\n  <cachedir>${join(dir, 'fonts-cache')}</cachedir>\n</fontconfig>\n`,
    );
    writeFileSync(join(work, 'complete'), version);
    try {
      renameSync(work, dir);
    } catch (e) {
      // Someone else finished first (the directory exists and is not empty): use theirs.
      if (!existsSync(join(dir, 'complete'))) throw e;
      rmSync(work, { recursive: true, force: true });
    }
  } catch (e) {
    rmSync(work, { recursive: true, force: true });
    throw e;
  }
  return env(dir);
}

/** Launch headless Chromium: the packaged build, else Debian's when that is installed. */
export async function launchChromium(): Promise<Browser> {
  let packagedError: unknown;
  if (process.platform === 'linux' && process.arch === 'x64') {
    try {
      const p = await packagedChromium();
      return await chromium.launch({ executablePath: p.executablePath, headless: true, args: ARGS, env: { ...process.env, ...p.env } });
    } catch (e) {
      packagedError = e;
    }
  }
  if (existsSync(DEBIAN_CHROMIUM)) return await chromium.launch({ executablePath: DEBIAN_CHROMIUM, headless: true, args: ARGS });
  throw packagedError ?? new Error(`no Chromium for ${process.platform}-${process.arch}: install chromium at ${DEBIAN_CHROMIUM}`);
}
