import { existsSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';

/**
 * The browser the tests drive, found where `npm test`'s pre-step (scripts/setup-browser.mjs)
 * looks and installs one: CHROMIUM_PATH, the system's Chromium or Chrome, then one playwright
 * downloaded. Headless, with the flags this offline machine needs.
 */
const SYSTEM_PATHS = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome-stable', '/usr/bin/google-chrome'];
const PATH_NAMES = ['chromium', 'chromium-browser', 'google-chrome-stable', 'google-chrome'];
const onPath = (name: string) =>
  (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter(Boolean)
    .map((dir) => path.join(dir, name))
    .find((candidate) => existsSync(candidate));
const downloaded = () => {
  try {
    const candidate = chromium.executablePath();
    return candidate && existsSync(candidate) ? candidate : undefined;
  } catch {
    return undefined; // no browser registry for this platform
  }
};

export const CHROMIUM_PATH =
  process.env.CHROMIUM_PATH ?? SYSTEM_PATHS.find((p) => existsSync(p)) ?? PATH_NAMES.map(onPath).find(Boolean) ?? downloaded();

export async function launchBrowser(): Promise<Browser> {
  if (!CHROMIUM_PATH) throw new Error('Chromium not found: `npm test` installs one (scripts/setup-browser.mjs), or set CHROMIUM_PATH');
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
