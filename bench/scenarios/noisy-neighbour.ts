import { createAccount } from '../../db/accounts.js';
import { openDatabase } from '../../db/client.js';
import { MAX_BODY_LENGTH, MAX_STEPS_PER_REQUEST } from '../../api/schemas/sequences.js';
import { apiClient } from '../../test/helpers/service.js';
import { startBenchEnvironment } from '../environment.js';
import { pacedLoad, type PacedResult } from '../paced-load.js';
import { productionProcesses } from '../processes.js';

export interface NoisyNeighbourResult {
  /** The other tenant's reads alone, then while the heavy tenant renders. */
  alone: PacedResult;
  underLoad: PacedResult;
  victimRate: number;
  /** What the heavy tenant sent, at its API rate limit, and how it was answered. */
  heavy: { ratePerSecond: number; template: string; answers: Record<string, number> };
}

/**
 * The costliest step body the API accepts, found by measuring candidates (see the README's
 * Security section): a Markdown table of 20,000 characters. Markdown, the sanitiser and the
 * text part each take tens of milliseconds over it; no accepted template costs more.
 */
export function worstAcceptedBody(length = MAX_BODY_LENGTH): string {
  const row = `${'|a'.repeat(100)}\n`;
  return `${row}${'|-'.repeat(100)}\n${row.repeat(Math.ceil(length / row.length))}`.slice(0, length);
}

/**
 * The costliest body to check when a step is saved (measured likewise): one condition of 600
 * `or`-ed `contains` tests, about 17,000 characters, 20–75 ms for Liquid's parser and analyser.
 */
export function worstAcceptedConditions(): string {
  return `{% if ${Array.from({ length: 600 }, (_, i) => `custom.a contains "y${i}"`).join(' or ')} %}x{% endif %}`;
}

/**
 * One tenant at its API rate limit (600 requests a minute by default) asks for the most expensive
 * work the API accepts: previews of the costliest body to compose, and sequences of 50 steps of
 * the costliest body to check.
 * Another tenant reads one of its sequences, evenly paced within its own rate limit, first alone
 * and then beside it. The floor (issue 14): the other tenant's p99 stays under 100 ms.
 */
export async function noisyNeighbour(load: { seconds: number; victimRate: number }): Promise<NoisyNeighbourResult> {
  const env = await startBenchEnvironment();
  try {
    const ratePerMinute = 600;
    const api = await productionProcesses(env, ['server.ts'], undefined, { API_RATE_LIMIT_PER_MINUTE: String(ratePerMinute) });
    try {
      const database = await openDatabase({ url: env.databaseUrl, dataDir: '.data' });
      const victimKey = (
        await createAccount(database.db, { name: 'Quiet tenant', postalAddress: '1 Quiet Street', sender: { name: 'Quiet' } })
      ).apiKey;
      await database.close();
      const heavy = api.api;
      const victim = apiClient(api.baseUrl, victimKey);
      const body = worstAcceptedBody();
      const step = { subject: 'Hello {{ first_name | default: "there" }}', body, delay: { amount: 1, unit: 'days' } };
      const heavySequence = await heavy('POST', '/v1/sequences', { name: 'Heavy', steps: [step] });
      if (heavySequence.status !== 201)
        throw new Error(`heavy sequence: ${heavySequence.status} ${JSON.stringify(heavySequence.body).slice(0, 300)}`);
      const quiet = await victim('POST', '/v1/sequences', {
        name: 'Quiet',
        steps: [{ subject: 'Hi', body: 'Hello', delay: { amount: 1, unit: 'days' } }],
      });
      const read = {
        baseUrl: api.baseUrl,
        rate: load.victimRate,
        headers: { authorization: `Bearer ${victimKey}` },
        next: () => ({ method: 'GET' as const, path: `/v1/sequences/${quiet.body.id}` }),
      };

      await pacedLoad({ ...read, seconds: Math.min(5, load.seconds) }); // warm-up, not recorded
      const alone = await pacedLoad({ ...read, seconds: load.seconds });

      // At the heavy tenant's rate limit: four previews in five requests, the fifth a new sequence of 50 such steps.
      const answers: Record<string, number> = {};
      const previewPath = `/v1/sequences/${heavySequence.body.id}/steps/${heavySequence.body.steps[0].id}/preview`;
      const saved = { ...step, body: worstAcceptedConditions() };
      const createBody = JSON.stringify({ name: 'Heavy again', steps: Array.from({ length: MAX_STEPS_PER_REQUEST }, () => saved) });
      let n = 0;
      const heavyLoad = pacedLoad({
        baseUrl: api.baseUrl,
        rate: ratePerMinute / 60,
        seconds: load.seconds + 2,
        headers: { authorization: `Bearer ${api.apiKey}`, 'content-type': 'application/json' },
        next: () =>
          n++ % 5 === 4 ? { method: 'POST', path: '/v1/sequences', body: createBody } : { method: 'POST', path: previewPath, body: '{}' },
        onAnswer: (status) => (answers[status] = (answers[status] ?? 0) + 1),
      });
      const underLoad = await pacedLoad({ ...read, seconds: load.seconds });
      await heavyLoad;
      return {
        alone,
        underLoad,
        victimRate: load.victimRate,
        heavy: {
          ratePerSecond: ratePerMinute / 60,
          template: `a ${body.length}-character Markdown table previewed (4 in 5 requests), and sequences of ${MAX_STEPS_PER_REQUEST} steps of a ${saved.body.length}-character condition of 600 or-ed tests saved (1 in 5)`,
          answers,
        },
      };
    } finally {
      await api.stop();
    }
  } finally {
    await env.close();
  }
}
