import { sleep } from '@temporalio/workflow';
import { sendingActivities } from './proxies.js';
import { markdownText } from '../domain/markdown-text.js';

/** One email to one lead outside a sequence, sent durably: it survives crashes and waits out quotas. */
export async function oneOffEmailWorkflow({ oneOffId }: { oneOffId: string }): Promise<{ outcome: string; reason?: string }> {
  const { sendOneOff } = sendingActivities();
  for (;;) {
    const result = await sendOneOff({ oneOffId });
    if (result.outcome !== 'postponed') return result;
    await sleep(Math.max(1_000, Date.parse(result.until) - Date.now()), { summary: `postponed: ${markdownText(result.reason)}` });
  }
}
