// Shared by the setup scripts: pinned packages from PyPI into a project-local virtualenv.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

/**
 * Installs `packages` (pip specifiers) into `venv`, creating it first. Without Python it prints
 * `withoutPython` and returns false, so the caller can go on without the tools.
 */
export function installIntoVenv(venv, packages, { who, withoutPython }) {
  const python = ['python3', 'python'].find((p) => {
    try {
      execFileSync(p, ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  });
  if (!python) {
    console.warn(`${who}: ${withoutPython}`);
    return false;
  }
  console.log(`${who}: installing ${packages.join(', ')} into ${path.basename(venv)}`);
  if (!existsSync(path.join(venv, 'bin', 'pip'))) execFileSync(python, ['-m', 'venv', venv], { stdio: 'inherit' });
  execFileSync(path.join(venv, 'bin', 'pip'), ['install', '--quiet', '--disable-pip-version-check', ...packages], { stdio: 'inherit' });
  return true;
}
