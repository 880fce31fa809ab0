import type { LookupAddress, LookupOptions } from 'node:dns';
import { ApplicationFailure } from '@temporalio/common';
import { eq } from 'drizzle-orm';
import { Webhook } from 'standardwebhooks';
import { Agent, fetch } from 'undici';
import type { Config } from '../config.js';
import type { Db } from '../db/client.js';
import { accounts } from '../db/schema.js';
import {
  checkWebhookUrl,
  lookupAll,
  resolvedAddressesProblem,
  webhookDestinationPolicy,
  type DestinationPolicy,
  type LookupAll,
} from '../domain/webhook-destination.js';
import type { PortalEvent } from '../workflows/contract.js';

// Outbound webhooks to the portal: reply, bounce, unsubscribe, enrolment ended. Signed the
// Standard Webhooks way (webhook-id, webhook-timestamp, webhook-signature: HMAC-SHA256 with the
// account's secret) and delivered by a workflow that retries for a day, so none is lost. Events
// are started by notifyPortal (temporal/portal-events.ts).

/** A destination the rules refuse: the delivery fails for good (retrying would not change it). */
export class DestinationRefusedError extends Error {
  constructor(readonly reason: string) {
    super(`portal webhook destination refused: ${reason}`);
    this.name = 'DestinationRefusedError';
  }
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * An HTTP agent whose every connection resolves the host itself, refuses it when any address is
 * not allowed, and connects to exactly the addresses it checked: a DNS answer that changes
 * between the check and the connection (DNS rebinding) cannot slip through. IP literals are never
 * looked up by the socket, so checkWebhookUrl judges those before the request.
 */
export function guardedAgent(policy: DestinationPolicy, resolve: LookupAll = lookupAll): Agent {
  const lookup = (hostname: string, options: LookupOptions, callback: LookupCallback) => {
    resolve(hostname).then(
      (all) => {
        const problem = resolvedAddressesProblem(
          hostname,
          all.map((a) => a.address),
          policy,
        );
        if (problem) return callback(new DestinationRefusedError(problem), []);
        const wanted = options.family === 4 || options.family === 6 ? all.filter((a) => a.family === options.family) : all;
        if (wanted.length === 0)
          return callback(Object.assign(new Error(`${hostname} has no IPv${options.family} address`), { code: 'ENOTFOUND' }), []);
        if (options.all) callback(null, wanted);
        else callback(null, wanted[0]!.address, wanted[0]!.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, []),
    );
  };
  return new Agent({ connect: { lookup }, keepAliveTimeout: 10_000 });
}

/** The refusal hidden in a failed fetch (undici wraps connection errors in TypeError: fetch failed). */
function refusalOf(error: unknown): DestinationRefusedError | undefined {
  for (let e = error as { cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (e instanceof DestinationRefusedError) return e;
  }
  return undefined;
}

const nonRetryable = (reason: string) =>
  ApplicationFailure.nonRetryable(`portal webhook not delivered: ${reason}`, 'PortalWebhookDestinationRefused');

export function createDeliverPortalWebhook({
  db,
  config,
  resolve,
}: {
  db: Db;
  config: Pick<Config, 'NODE_ENV' | 'PORTAL_WEBHOOK_ALLOW_PRIVATE'>;
  resolve?: LookupAll;
}) {
  const policy = webhookDestinationPolicy(config);
  const dispatcher = guardedAgent(policy, resolve);
  return async function deliverPortalWebhook(event: PortalEvent): Promise<{ status: number } | { skipped: string }> {
    const [account] = await db
      .select({
        url: accounts.portalWebhookUrl,
        secret: accounts.portalWebhookSecret,
        previousSecret: accounts.portalWebhookPreviousSecret,
        previousSecretExpiresAt: accounts.portalWebhookPreviousSecretExpiresAt,
      })
      .from(accounts)
      .where(eq(accounts.id, event.accountId));
    if (!account?.url || !account.secret) return { skipped: 'no portal webhook configured' };
    // Saved URLs were checked, but the rules may have tightened since, and a name's DNS can change.
    const checked = checkWebhookUrl(account.url, policy);
    if (!checked.ok) throw nonRetryable(`the URL ${checked.reason}`);
    const body = JSON.stringify({ type: event.type, created_at: event.createdAt, data: event.data });
    const timestamp = new Date();
    // After a rotation the previous secret signs too, until it expires (Standard Webhooks allows
    // several space-separated signatures; the receiver accepts any one it can verify).
    const secrets = [
      account.secret,
      ...(account.previousSecret && account.previousSecretExpiresAt && account.previousSecretExpiresAt > timestamp
        ? [account.previousSecret]
        : []),
    ];
    const signature = secrets.map((secret) => new Webhook(secret).sign(event.id, timestamp, body)).join(' ');
    let response;
    try {
      response = await fetch(checked.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'webhook-id': event.id,
          'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
          'webhook-signature': signature,
        },
        body,
        redirect: 'manual',
        dispatcher,
        signal: AbortSignal.timeout(10_000),
      });
    } catch (error) {
      const refused = refusalOf(error);
      if (refused) throw nonRetryable(refused.reason);
      throw error;
    }
    await response.body?.cancel();
    if (response.status >= 300 && response.status < 400) {
      throw new Error(
        `portal answered ${response.status} (a redirect${response.headers.get('location') ? ` to ${response.headers.get('location')}` : ''}, which is not followed: set the final URL)`,
      );
    }
    if (!response.ok) throw new Error(`portal answered ${response.status}`);
    return { status: response.status };
  };
}
