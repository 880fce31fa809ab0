import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@temporalio/client';
import { inArray } from 'drizzle-orm';
import { createApp } from '../api/app.js';
import { loadConfigOrExit } from '../config.js';
import { createAccount } from '../db/accounts.js';
import { openDatabase } from '../db/client.js';
import {
  enrolmentEvents,
  enrolments,
  inboundMessages,
  leads,
  leadUnsubscriptions,
  messages,
  sequences,
  steps,
  stepVariants,
  variantAssignments,
} from '../db/schema.js';
import { createLogger } from '../logger.js';

// `npx tsx scripts/experiment-example.ts`: the answer of GET /v1/sequences/:id/steps/:stepId/experiment
// for a known experiment, seeded into a fresh account: step 1 as variant A went to 200 leads and
// 20 replied (6 marked positive), as variant B to 200 and 35 replied (14 positive), with a few
// bounces, clicks, opens, unsubscribes and a complaint. On DATABASE_URL if it is set (the account
// stays there), else on an embedded database in a temporary directory, removed afterwards.
// Nothing is sent and Temporal is not needed: the endpoint reads PostgreSQL only.

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'experiment-example-'));
const config = loadConfigOrExit({ ...process.env, DATA_DIR: dataDir, LOG_LEVEL: 'silent' });
const database = await openDatabase({ url: config.DATABASE_URL, dataDir });
try {
  await database.migrate();
  const { db } = database;
  const { account, apiKey } = await createAccount(db, {
    name: 'Experiment example',
    postalAddress: '1 Example Street',
    sender: { name: 'Sam Seller' },
  });
  const [sequence] = await db.insert(sequences).values({ accountId: account.id, name: 'Spring outreach' }).returning();
  const [step] = await db
    .insert(steps)
    .values({ accountId: account.id, sequenceId: sequence!.id, position: 1, subject: 'Quick question', body: 'Hello' })
    .returning();
  const variants = await db
    .insert(stepVariants)
    .values([
      { accountId: account.id, stepId: step!.id, label: 'A', subject: 'Quick question, {{ first_name }}', body: 'A short note.' },
      { accountId: account.id, stepId: step!.id, label: 'B', subject: 'An idea for {{ company }}', body: 'A note with a case study.' },
    ])
    .returning();
  const sentAt = new Date(Date.now() - 5 * 24 * 3600_000);
  const later = new Date(sentAt.getTime() + 6 * 3600_000);

  const seed = async (
    variant: (typeof variants)[number],
    n: {
      sent: number;
      replied: number;
      positive: number;
      delivered: number;
      bounced: number;
      opened: number;
      clicked: number;
      unsubscribed: number;
      complained: number;
    },
  ) => {
    const leadRows = await db
      .insert(leads)
      .values(
        Array.from({ length: n.sent }, (_, i) => ({
          accountId: account.id,
          email: `lead-${variant.label}-${i}@prospect.test`,
          firstName: 'Lee',
        })),
      )
      .returning();
    const enrolled = await db
      .insert(enrolments)
      .values(
        leadRows.map((lead) => ({
          accountId: account.id,
          sequenceId: sequence!.id,
          leadId: lead.id,
          status: 'completed' as const,
          replyToken: randomUUID().replaceAll('-', ''),
          workflowStartedAt: sentAt,
          holdout: false,
        })),
      )
      .returning();
    const sent = await db
      .insert(messages)
      .values(
        enrolled.map((e, i) => ({
          accountId: account.id,
          enrolmentId: e.id,
          leadId: e.leadId,
          stepId: step!.id,
          variantId: variant.id,
          idempotencyKey: `${e.id}:${step!.id}`,
          toEmail: leadRows[i]!.email!,
          fromEmail: 'sam@seller.test',
          subject: variant.subject,
          html: '<p>Hello</p>',
          text: 'Hello',
          status: i < n.bounced ? ('bounced' as const) : i < n.bounced + n.delivered ? ('delivered' as const) : ('sent' as const),
          sentAt,
          deliveredAt: i >= n.bounced && i < n.bounced + n.delivered ? sentAt : null,
          bouncedAt: i < n.bounced ? sentAt : null,
          firstOpenedAt: i >= n.bounced && i < n.bounced + n.opened ? later : null,
          firstClickedAt: i >= n.bounced && i < n.bounced + n.clicked ? later : null,
        })),
      )
      .returning();
    await db
      .insert(variantAssignments)
      .values(enrolled.map((e) => ({ accountId: account.id, enrolmentId: e.id, stepId: step!.id, variantId: variant.id })));
    // Replies and unsubscribes from delivered emails, counted from the end so they do not overlap.
    const replied = sent.slice(sent.length - n.replied);
    await db.insert(inboundMessages).values(
      replied.map((m, i) => ({
        accountId: account.id,
        enrolmentId: m.enrolmentId,
        leadId: m.leadId,
        fromEmail: m.toEmail,
        subject: `Re: ${m.subject}`,
        text: 'Tell me more',
        receivedAt: later,
        processedAt: later,
        sentiment: i < n.positive ? ('positive' as const) : null,
      })),
    );
    const unsubscribed = sent.slice(sent.length - n.replied - n.unsubscribed, sent.length - n.replied);
    if (unsubscribed.length) {
      await db
        .insert(leadUnsubscriptions)
        .values(unsubscribed.map((m) => ({ accountId: account.id, leadId: m.leadId, source: 'link', createdAt: later })));
      await db
        .update(leads)
        .set({ unsubscribedAt: later })
        .where(
          inArray(
            leads.id,
            unsubscribed.map((m) => m.leadId),
          ),
        );
    }
    const complained = sent.slice(n.bounced, n.bounced + n.complained);
    if (complained.length) {
      await db.insert(enrolmentEvents).values(
        complained.map((m) => ({
          accountId: account.id,
          enrolmentId: m.enrolmentId!,
          type: 'email_complained',
          detail: { messageId: m.id },
        })),
      );
    }
  };
  await seed(variants[0]!, {
    sent: 200,
    replied: 20,
    positive: 6,
    delivered: 194,
    bounced: 3,
    opened: 92,
    clicked: 11,
    unsubscribed: 2,
    complained: 1,
  });
  await seed(variants[1]!, {
    sent: 200,
    replied: 35,
    positive: 14,
    delivered: 196,
    bounced: 2,
    opened: 88,
    clicked: 17,
    unsubscribed: 3,
    complained: 0,
  });

  // The answer as the portal gets it: the real app, over HTTP, with the account's API key.
  const app = createApp({
    config,
    database,
    temporal: new Client(), // connects lazily: this endpoint never calls Temporal
    logger: createLogger({ level: 'silent' }),
    mailer: { send: async () => ({ providerId: 'unused' }) },
  });
  const server = await new Promise<import('node:http').Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  try {
    const { port } = server.address() as AddressInfo;
    const res = await fetch(`http://127.0.0.1:${port}/v1/sequences/${sequence!.id}/steps/${step!.id}/experiment`, {
      headers: { authorization: `Bearer ${apiKey}` },
    });
    process.stdout.write(`GET /v1/sequences/${sequence!.id}/steps/${step!.id}/experiment → ${res.status}\n`);
    process.stdout.write(`${JSON.stringify(await res.json(), null, 2)}\n`);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
} finally {
  await database.close();
  rmSync(dataDir, { recursive: true, force: true });
}
// The compose pool's worker threads and the metrics gauge would keep the process alive.
process.exit(0);
