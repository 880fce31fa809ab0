import { randomUUID } from 'node:crypto';
import { simpleParser, type ParsedMail } from 'mailparser';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { messages } from '../db/schema.js';
import { asNewAccount } from './helpers/fixtures.js';
import { inboundWorldForFile, type InboundWorld } from './helpers/inbound.js';
import { mimeOf, type ResendSink } from './helpers/resend-sink.js';
import { eventually } from './helpers/service.js';

/**
 * Issue 16: follow-ups arrive in one thread. Each step after the first goes as a reply to the
 * enrolment's previous email: `Re:` the subject the lead received first, In-Reply-To the previous
 * email's Message-ID (the one the provider gave it: the sink, like Resend over SES, replaces ours)
 * and References the whole chain. Read here as the lead's mailbox reads it, parsed by mailparser.
 */
let sink: ResendSink;
let world: InboundWorld;
inboundWorldForFile((s, w) => ([sink, world] = [s, w]));

const minutes = (amount: number) => ({ amount, unit: 'minutes' });
/** What reached one address, oldest first, parsed from the MIME the mailbox receives. */
const received = (address: string): Promise<ParsedMail[]> =>
  Promise.all(sink.emails.filter((e) => e.payload.to === address).map((e) => simpleParser(mimeOf(e))));

/** An account with a sequence of the given steps (through the API), and one lead enrolled in it. */
async function leadIn(steps: Record<string, unknown>[], sequenceValues: Record<string, unknown> = {}) {
  const fixture = await asNewAccount(world.service, { companyName: 'Acme Ltd', postalAddress: '1 Main St, Springfield' });
  const created = await fixture.api('POST', '/v1/sequences', { name: `Threads ${randomUUID().slice(0, 6)}`, ...sequenceValues, steps });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const sequence = created.body as { id: string; steps: { id: string; inThread: boolean | null }[] };
  const lead = await fixture.createLead({ firstName: 'Ada' });
  const enrolment = await fixture.enrolLead(sequence.id, lead.id);
  return { ...fixture, sequence, lead, enrolment };
}

/** A header line as received (mailparser folds List-* headers into one object; the lines stay as they came). */
const header = (email: ParsedMail, name: string) => email.headerLines.find((line) => line.key === name)?.line;

const step = (n: number, values: Record<string, unknown> = {}) => ({
  subject: `Idea for {{ first_name }} (${n})`,
  body: `Hi {{ first_name }}, this is follow-up ${n}.`,
  delay: minutes(0),
  ...values,
});

describe('a three-step sequence', () => {
  it('arrives as one thread: Re: the first subject, In-Reply-To the previous email, References the chain', async () => {
    const { lead, enrolment, waitForStatus } = await leadIn([step(1), step(2), step(3)]);
    await waitForStatus(enrolment.id, 'completed', 60_000);
    const [first, second, third] = await received(lead.email);
    expect([first!.subject, second!.subject, third!.subject]).toEqual(['Idea for Ada (1)', 'Re: Idea for Ada (1)', 'Re: Idea for Ada (1)']);
    expect(first!.inReplyTo).toBeUndefined();
    expect(second!.inReplyTo).toBe(first!.messageId);
    expect(second!.references).toBe(first!.messageId);
    expect(third!.inReplyTo).toBe(second!.messageId);
    expect(third!.references).toEqual([first!.messageId, second!.messageId]);
    // The ids the mailbox knows are the provider's, not ours: threads chain on what it reported.
    expect(first!.messageId).toMatch(/@us-east-1\.amazonses\.com>$/);
    for (const email of [first, second, third]) {
      expect(email!.headers.has('x-entity-ref-id')).toBe(false);
      expect(header(email!, 'list-unsubscribe')).toMatch(/^List-Unsubscribe: <https:\/\/sequences\.test\/u\//);
    }
    console.log(
      `[figures] a three-step thread as received:\n${[first, second, third]
        .map(
          (e) =>
            `  Subject: ${e!.subject}\n  Message-ID: ${e!.messageId}\n  In-Reply-To: ${e!.inReplyTo ?? '-'}\n  References: ${[e!.references ?? '-'].flat().join(' ')}`,
        )
        .join('\n\n')}`,
    );
  });

  it('keeps the thread when step 1 is edited between sends: the subject is the one the lead received', async () => {
    const { api, lead, enrolment, sequence, waitForStatus } = await leadIn([step(1), step(2, { delay: minutes(1) })]);
    await eventually(async () => (await received(lead.email)).length === 1, { what: 'step 1 received' });
    const edited = await api('PATCH', `/v1/sequences/${sequence.id}/steps/${sequence.steps[0]!.id}`, { subject: 'A new subject' });
    expect(edited.status).toBe(200);
    await waitForStatus(enrolment.id, 'completed', 150_000);
    const [first, second] = await received(lead.email);
    expect(second!.subject).toBe(`Re: ${first!.subject}`);
    expect(second!.inReplyTo).toBe(first!.messageId);
  }, 180_000);

  it('sends a step marked as a new email outside the thread, and the next follow-up threads on it', async () => {
    const { lead, enrolment, waitForStatus } = await leadIn([step(1), step(2, { inThread: false }), step(3)]);
    await waitForStatus(enrolment.id, 'completed', 60_000);
    const [first, second, third] = await received(lead.email);
    expect(second!.subject).toBe('Idea for Ada (2)');
    expect(second!.inReplyTo).toBeUndefined();
    expect([third!.subject, third!.inReplyTo, third!.references]).toEqual(['Re: Idea for Ada (2)', second!.messageId, second!.messageId]);
    expect(first!.messageId).not.toBe(second!.messageId);
  });

  it('quotes the previous email below a follow-up when its step asks to', async () => {
    const { lead, enrolment, waitForStatus } = await leadIn([step(1), step(2, { quotePrevious: true })]);
    await waitForStatus(enrolment.id, 'completed', 60_000);
    const [, second] = await received(lead.email);
    expect(second!.text).toMatch(/On .+, "Sam Seller" <.+> wrote:\n> Hi Ada, this is follow-up 1\./);
    expect(second!.html).toContain('<blockquote');
    expect(second!.html).toContain('Hi Ada, this is follow-up 1.');
  });
});

describe('our own threaded follow-up', () => {
  it('is never taken for the lead’s reply when a copy of it reaches the reply address', async () => {
    const { lead, enrolment, waitForStatus, enrolmentRow } = await leadIn([
      step(1),
      step(2),
      step(3, { delay: { amount: 3, unit: 'days' } }),
    ]);
    await eventually(async () => (await received(lead.email)).length === 2, { what: 'two steps received', timeoutMs: 60_000 });
    const [, second] = sink.emails.filter((e) => e.payload.to === lead.email);
    const row = await enrolmentRow(enrolment.id);
    // Resend's delivery event reports the Message-ID the follow-up went out with.
    const delivered = await world.webhook('email.delivered', { email_id: second!.id, message_id: second!.messageId });
    expect(delivered.status).toBe(200);
    const copy = mimeOf(second!).replace(`To: ${lead.email}`, `To: r-${row.replyToken}@reply.example.com`);
    // The follow-up itself, sent back to the reply address by the lead's forwarding rule with the
    // lead's From: its Message-ID is the one it went out with.
    const looped = copy.replace(/^From: .*$/m, `From: <${lead.email}>`);
    expect((await world.postMime(looped)).status).toBe(200);
    // A copy with a new Message-ID, from the sender's own address (a BCC to a CRM mailbox, a rep's client).
    const rewritten = copy.replace(/^Message-ID: .*$/m, `Message-ID: <${randomUUID()}@crm.test>`);
    expect((await world.postMime(rewritten)).status).toBe(200);
    expect(await world.inboundOf(enrolment.id)).toEqual([]);
    const after = await enrolmentRow(enrolment.id);
    expect([after.status, after.repliedAt]).toEqual(['active', null]);
    await waitForStatus(enrolment.id, 'active');
  });
});

describe('a stranger’s email naming ids that only look like ours', () => {
  it('is handled like any other, not a failure the provider would retry for ever', async () => {
    const fake = `<${'-'.repeat(36)}@reply.example.com>`;
    const mime = world.mimeReply('r-nobody@reply.example.com', 'stranger@evil.test', {
      messageId: fake,
      head: [`In-Reply-To: ${fake}`, `References: ${fake}`, 'Content-Type: text/plain; charset=utf-8'],
    });
    const res = await world.postMime(mime);
    expect([res.status, res.body]).toEqual([200, expect.objectContaining({ outcome: 'no matching enrolment' })]);
  });
});

describe('a plain sequence', () => {
  it('sends a personal note: text with a minimal HTML twin, no images, the unsubscribe line and address as short text', async () => {
    const { lead, enrolment, waitForStatus } = await leadIn(
      [step(1, { body: 'Hi {{ first_name }}, ![logo](https://cdn.acme.test/logo.png) short note.' })],
      { format: 'plain' },
    );
    await waitForStatus(enrolment.id, 'completed');
    const [email] = await received(lead.email);
    expect(email!.html).not.toMatch(/<img|<table|mj-|background-color/i);
    expect(email!.html).toContain('short note.');
    expect(email!.text).toContain('Acme Ltd, 1 Main St, Springfield');
    expect(email!.text).toMatch(/Unsubscribe: https:\/\/sequences\.test\/u\//);
    expect(header(email!, 'list-unsubscribe')).toMatch(/^List-Unsubscribe: <https:\/\/sequences\.test\/u\//);
    expect(header(email!, 'list-unsubscribe-post')).toBe('List-Unsubscribe-Post: List-Unsubscribe=One-Click');
    const [stored] = await world.db.select().from(messages).where(eq(messages.enrolmentId, enrolment.id));
    expect(stored!.html).toBe(email!.html);
  });
});
