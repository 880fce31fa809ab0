// A thread of the compose pool (see domain/compose-pool.ts). Plain JavaScript so that it loads in
// every process that starts one (production under tsx, the test runner, the benchmarks); it
// loads the TypeScript tasks through tsx's API.
import { tsImport } from 'tsx/esm/api';

const tasks = await tsImport('./compose-tasks.ts', import.meta.url);
export default tasks.compose;
export const checkTemplate = tasks.checkTemplate;
