#!/usr/bin/env node
// Makes sure a Chromium exists for the browser tests (email rendering, the unsubscribe page,
// security headers, API docs), which drive it through playwright-core. Runs before `npm test`
// and says what it did. In order:
//   1. CHROMIUM_PATH, when set (it must exist);
//   2. the system's Chromium or Chrome (/usr/bin/chromium, …, or on PATH);
//   3. a Chromium playwright downloaded earlier (`npx playwright-core install chromium`);
//   4. Debian/Ubuntu's package, installed with apt-get when running as root (as CI does) or with
//      password-less sudo.
// Otherwise it stops `npm test` with what to install. test/helpers/browser.ts looks in the same
// places. `npx vitest run <files>` skips this step, for running tests that need no browser.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

const who = 'setup-browser';
const SYSTEM_PATHS = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome-stable', '/usr/bin/google-chrome'];
const PATH_NAMES = ['chromium', 'chromium-browser', 'google-chrome-stable', 'google-chrome'];

const onPath = (name) =>
  (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter(Boolean)
    .map((dir) => path.join(dir, name))
    .find((candidate) => existsSync(candidate));

async function playwrightChromium() {
  try {
    const { chromium } = await import('playwright-core');
    const candidate = chromium.executablePath();
    return candidate && existsSync(candidate) ? candidate : undefined;
  } catch {
    return undefined;
  }
}

async function findBrowser() {
  return SYSTEM_PATHS.find((p) => existsSync(p)) ?? PATH_NAMES.map(onPath).find(Boolean) ?? (await playwrightChromium());
}

/** The browser's own version line, or undefined when it does not start. */
function versionOf(executable) {
  const run = spawnSync(executable, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  return run.status === 0 ? run.stdout.trim() : undefined;
}

function succeeds(command, args) {
  return spawnSync(command, args, { stdio: 'ignore' }).status === 0;
}

function fail(problem) {
  console.error(
    [
      `${who}: ${problem}`,
      `${who}: the browser tests need Chromium (or Chrome). Install one of:`,
      `${who}:   Debian/Ubuntu: sudo apt-get install -y chromium   (Ubuntu: chromium-browser)`,
      `${who}:   Fedora: sudo dnf install -y chromium    macOS: brew install --cask chromium`,
      `${who}:   with internet: npx playwright-core install chromium`,
      `${who}: or point CHROMIUM_PATH at a Chromium/Chrome binary. Then run npm test again.`,
    ].join('\n'),
  );
  process.exit(1);
}

function report(executable, how) {
  const version = versionOf(executable);
  if (!version) fail(`${executable} (${how}) does not start: \`${executable} --version\` failed`);
  console.log(`${who}: ${how}: ${executable} (${version})`);
}

if (process.env.CHROMIUM_PATH) {
  if (!existsSync(process.env.CHROMIUM_PATH)) fail(`CHROMIUM_PATH=${process.env.CHROMIUM_PATH} does not exist`);
  report(process.env.CHROMIUM_PATH, 'using CHROMIUM_PATH');
  process.exit(0);
}

const found = await findBrowser();
if (found) {
  report(found, 'using the installed browser');
  process.exit(0);
}

// Nothing installed: Debian's package, if this machine lets us install it.
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const hasApt = existsSync('/usr/bin/apt-get');
const sudo = !isRoot && hasApt && succeeds('sudo', ['-n', 'true']) ? ['sudo', '-n'] : undefined;
if (!hasApt) fail('no Chromium found, and this is not a machine with apt-get to install one');
if (!isRoot && !sudo) fail('no Chromium found; installing it with apt-get needs root (or password-less sudo)');

const apt = (args) => {
  const [command, ...rest] = [...(sudo ?? []), 'apt-get', ...args];
  execFileSync(command, rest, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
};
const command = `${sudo ? 'sudo ' : ''}apt-get install -y chromium`;
console.log(`${who}: no Chromium found; installing Debian's package: ${command}`);
try {
  apt(['update', '-qq']);
  apt(['install', '-y', '-qq', 'chromium']);
} catch {
  fail(`\`${command}\` failed (see above)`);
}
const installed = await findBrowser();
if (!installed) fail(`\`${command}\` succeeded but no Chromium is at ${SYSTEM_PATHS[0]}`);
report(installed, 'installed with apt-get');
