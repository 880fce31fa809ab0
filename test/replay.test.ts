import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker } from '@temporalio/worker';
import { describe, expect, inject, it } from 'vitest';
// Routes the SDK's logs through the (quiet) test logger.
import './helpers/service.js';

/**
 * Enrolments sleep for weeks, so every deploy meets histories written by older workflow code.
 * Each file in test/histories is a real run; replaying it with today's code must give the same
 * commands. A change that would not must go behind `patched()` (README: "Changing workflow code").
 */
const dir = path.join('test', 'histories');
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

describe('recorded workflow histories', () => {
  it('exist for every workflow type', () => {
    const types = new Set(
      files.map(
        (f) =>
          historyFromJSON(JSON.parse(readFileSync(path.join(dir, f), 'utf8'))).events![0]!.workflowExecutionStartedEventAttributes!
            .workflowType!.name,
      ),
    );
    expect([...types].sort()).toEqual(['enrolmentWorkflow', 'oneOffEmailWorkflow', 'sequenceBroadcastWorkflow']);
  });

  it.each(files)('%s replays with today’s workflow code', async (file) => {
    const history = historyFromJSON(JSON.parse(readFileSync(path.join(dir, file), 'utf8')));
    await Worker.runReplayHistory({ workflowBundle: { code: readFileSync(inject('workflowBundlePath'), 'utf8') } }, history, file);
  });
});
