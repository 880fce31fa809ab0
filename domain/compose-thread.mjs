// A thread of the compose pool (see domain/compose-pool.ts). Plain JavaScript so that it loads in
// every process that starts one: compiled (`npm run build` copies it into dist/domain/, beside
// compose-tasks.js), and from source (the test runner, `npm start`, the benchmarks), where it
// loads the TypeScript tasks through tsx's API.
import { existsSync } from 'node:fs';

const compiled = new URL('./compose-tasks.js', import.meta.url);
const tasks = existsSync(compiled)
  ? await import(compiled.href)
  : await import('tsx/esm/api').then(({ tsImport }) => tsImport('./compose-tasks.ts', import.meta.url));
export default tasks.compose;
export const checkTemplate = tasks.checkTemplate;
