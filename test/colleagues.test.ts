import { randomUUID } from 'node:crypto';
import { and, eq, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrolmentEvents, enrolments, inboundMessages, notifications } from '../db/schema.js';
import { asNewAccount } from './helpers/fixtures.js';
import { eventually, startServiceWithSink, type ServiceWithSink, type TestService } from './helpers/service.js';

// A reply from one person at a company reaches their colleagues' enrolments when the sequence
// says so (onColleagueReply, colleagueScope): issue 17, "Colleagues". The company is the portal's
// company id, else the registrable email domain; free mail has none. Only an email whose From the
// receiving server authenticated (its Authentication-Results, from a trusted authserv-id) reaches
// colleagues: a forged From reaches the lead's own enrolment at most.

let started: ServiceWithSink | undefined;
let service: TestService;
const inboundSecret = 'inbound-secret-for-colleague-tests';
const RECEIVER = 'mx.receiver.test';
beforeAll(async () => {
  ({ service } = started = await startServiceWithSink({
    env: { INBOUND_MIME_SECRET: inboundSecret, INBOUND_AUTHSERV_IDS: `other.receiver.test, ${RECEIVER}` },
  }));
});
afterAll(() => started?.stop());

type Fixture = Awaited<ReturnType<typeof asNewAccount>>;
const twoSteps = [{ delay: { amount: 0, unit: 'minutes' } }, { delay: { amount: 3, unit: 'days' } }];

async function sequenceWith(fixture: Fixture, settings: Record<string, unknown>) {
  const sequence = await fixture.createSequence({ steps: twoSteps });
  if (Object.keys(settings).length === 0) return sequence;
  const patched = await fixture.api('PATCH', `/v1/sequences/${sequence.id}`, settings);
  expect(patched.status, JSON.stringify(patched.body)).toBe(200);
  return sequence;
}

/** Imports `emails` as leads (with the given company ids) and enrols them all in `sequenceId`. */
async function enrolMany(fixture: Fixture, sequenceId: string, emails: string[], companyIds: (string | undefined)[] = []) {
  const imported = await fixture.api('POST', '/v1/leads/import', {
    leads: emails.map((email, i) => ({ email, firstName: `Person ${i}`, ...(companyIds[i] ? { companyId: companyIds[i] } : {}) })),
  });
  expect(imported.status, JSON.stringify(imported.body)).toBe(200);
  const leadIds: string[] = imported.body.results.map((r: { id: string }) => r.id);
  const bulk = await fixture.api('POST', `/v1/sequences/${sequenceId}/enrolments/bulk`, { leadIds });
  expect(bulk.body.enrolled).toBe(leadIds.length);
  return bulk.body.results.map((r: { enrolmentId: string }) => r.enrolmentId) as string[];
}

/** What the receiving server says of a From it checked: DKIM signed by the From's own domain. */
const passing = (from: string) => `Authentication-Results: ${RECEIVER};\r\n dkim=pass (2048-bit key) header.d=${from.split('@')[1]}`;

/**
 * The lead of `enrolmentId` answers its first email, as a person would (raw MIME), with the
 * receiving server's `authentication` header lines on top (by default, one that authenticates the From).
 */
async function replies(fixture: Fixture, enrolmentId: string, from: string, authentication: string[] = [passing(from)]) {
  const { replyToken } = await fixture.enrolmentRow(enrolmentId);
  const mime = [
    ...authentication,
    `From: <${from}>`,
    `To: r-${replyToken}@reply.example.com`,
    'Subject: Re: your email',
    `Message-ID: <${randomUUID()}@mail.test>`,
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Thanks, we are talking to another vendor at the moment.',
  ].join('\r\n');
  const res = await fetch(`${service.baseUrl}/inbound/mime`, {
    method: 'POST',
    headers: { authorization: `Bearer ${inboundSecret}`, 'content-type': 'message/rfc822' },
    body: mime,
  });
  expect(res.status).toBe(200);
  expect(((await res.json()) as { outcome: string }).outcome).toBe('reply recorded');
}

const statusesOf = async (ids: string[]) =>
  (
    await service.database.db.select({ id: enrolments.id, status: enrolments.status }).from(enrolments).where(inArray(enrolments.id, ids))
  ).map((r) => r.status);
const allBecome = (ids: string[], status: string) =>
  eventually(async () => (await statusesOf(ids)).every((s) => s === status), {
    what: `${ids.length} enrolments to be ${status}`,
    timeoutMs: 60_000,
  });
/** Long enough for a fan-out that was wrongly started to have reached them (it reaches 200 in well under this). */
const settle = () => new Promise((resolve) => setTimeout(resolve, 2_000));

describe('a lead whose sequence stops colleagues on a reply', () => {
  it('stops every live enrolment of the same company in the sequence, 200 of them, naming who replied', async () => {
    const fixture = await asNewAccount(service);
    const sequence = await sequenceWith(fixture, { onColleagueReply: 'stop', onReply: 'stop' });
    const emails = Array.from({ length: 201 }, (_, i) => `person${i}@sales.acme-${fixture.account.id.slice(0, 8)}.co.uk`);
    const [replier, ...colleagues] = await enrolMany(fixture, sequence.id, emails);
    await replies(fixture, replier!, emails[0]!);
    await fixture.waitForStatus(replier!, 'replied');
    await allBecome(colleagues, 'stopped');
    const [one] = await service.database.db.select().from(enrolments).where(eq(enrolments.id, colleagues[17]!));
    expect(one!.endedReason).toBe(`a colleague replied: ${emails[0]}`);
  }, 120_000);

  it('leaves people at other companies and at free-mail addresses alone', async () => {
    const fixture = await asNewAccount(service);
    const sequence = await sequenceWith(fixture, { onColleagueReply: 'stop' });
    const tag = fixture.account.id.slice(0, 8);
    const [replier, gmailOne, gmailTwo, elsewhere] = await enrolMany(fixture, sequence.id, [
      `rita@gmail.com`,
      `bob-${tag}@gmail.com`,
      `carol-${tag}@gmail.com`,
      `dan@other-${tag}.com`,
    ]);
    await replies(fixture, replier!, 'rita@gmail.com');
    await fixture.waitForStatus(replier!, 'replied');
    await settle();
    expect(await statusesOf([gmailOne!, gmailTwo!, elsewhere!])).toEqual(['active', 'active', 'active']);
  });
});

describe('a sequence that pauses colleagues on a reply', () => {
  it('pauses them with the reason on their timeline, and a resume carries on', async () => {
    const fixture = await asNewAccount(service);
    const sequence = await sequenceWith(fixture, { onColleagueReply: 'pause' });
    const domain = `acme-${fixture.account.id.slice(0, 8)}.com`;
    const [replier, colleague] = await enrolMany(fixture, sequence.id, [`ann@${domain}`, `ben@${domain}`]);
    await replies(fixture, replier!, `ann@${domain}`);
    await fixture.waitForStatus(colleague!, 'paused');
    const entries = await service.database.db
      .select()
      .from(enrolmentEvents)
      .where(and(eq(enrolmentEvents.enrolmentId, colleague!), eq(enrolmentEvents.type, 'status_changed')));
    const [reply] = await service.database.db.select().from(inboundMessages).where(eq(inboundMessages.enrolmentId, replier!));
    expect(entries.map((e) => e.detail)).toContainEqual({ reason: `a colleague replied: ann@${domain}`, inboundId: reply!.id });
    expect((await fixture.api('POST', `/v1/enrolments/${colleague}/resume`)).status).toBeLessThan(300);
    await fixture.waitForStatus(colleague!, 'active');
  });
});

describe('the colleagues’ scope', () => {
  it('is the sequence by default: the same company in another sequence goes on', async () => {
    const fixture = await asNewAccount(service);
    const domain = `acme-${fixture.account.id.slice(0, 8)}.com`;
    const first = await sequenceWith(fixture, { onColleagueReply: 'stop' });
    const second = await sequenceWith(fixture, { onColleagueReply: 'stop' });
    const [replier] = await enrolMany(fixture, first.id, [`ann@${domain}`]);
    const [elsewhere] = await enrolMany(fixture, second.id, [`ben@${domain}`]);
    await replies(fixture, replier!, `ann@${domain}`);
    await fixture.waitForStatus(replier!, 'replied');
    await settle();
    expect(await statusesOf([elsewhere!])).toEqual(['active']);
  });

  it('is every sequence of the account when the sequence says so', async () => {
    const fixture = await asNewAccount(service);
    const domain = `acme-${fixture.account.id.slice(0, 8)}.com`;
    const first = await sequenceWith(fixture, { onColleagueReply: 'stop', colleagueScope: 'account' });
    const second = await sequenceWith(fixture, {});
    const [replier] = await enrolMany(fixture, first.id, [`ann@${domain}`]);
    const [elsewhere] = await enrolMany(fixture, second.id, [`ben@${domain}`]);
    await replies(fixture, replier!, `ann@${domain}`);
    await fixture.waitForStatus(elsewhere!, 'stopped');
  });
});

describe('the portal’s company id', () => {
  it('makes colleagues of leads at different domains, and decides over the domain', async () => {
    const fixture = await asNewAccount(service);
    const tag = fixture.account.id.slice(0, 8);
    const sequence = await sequenceWith(fixture, { onColleagueReply: 'stop' });
    const [replier, sameCompany, sameDomainOtherCompany] = await enrolMany(
      fixture,
      sequence.id,
      [`ann@acme-${tag}.com`, `ben@acme-subsidiary-${tag}.de`, `cat@acme-${tag}.com`],
      ['company-1', 'company-1', 'company-2'],
    );
    await replies(fixture, replier!, `ann@acme-${tag}.com`);
    await fixture.waitForStatus(sameCompany!, 'stopped');
    await settle();
    expect(await statusesOf([sameDomainOtherCompany!])).toEqual(['active']);
  });
});

describe('a sequence with the default setting', () => {
  it('does nothing to colleagues', async () => {
    const fixture = await asNewAccount(service);
    const sequence = await fixture.createSequence({ steps: twoSteps });
    const domain = `acme-${fixture.account.id.slice(0, 8)}.com`;
    const [replier, colleague] = await enrolMany(fixture, sequence.id, [`ann@${domain}`, `ben@${domain}`]);
    await replies(fixture, replier!, `ann@${domain}`);
    await fixture.waitForStatus(replier!, 'replied');
    await settle();
    expect(await statusesOf([colleague!])).toEqual(['active']);
  });
});

const notificationsOf = (accountId: string) =>
  service.database.db.select().from(notifications).where(eq(notifications.accountId, accountId));
const pauseSignalsOf = async (enrolmentId: string) => {
  const history = await service.temporal.workflow.getHandle(`enrolment-${enrolmentId}`).fetchHistory();
  return (history.events ?? []).filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'pause').length;
};

describe('a reply whose From the receiving server did not authenticate', () => {
  it.each([
    ['no Authentication-Results at all', () => []],
    [
      'a failing result',
      (from: string) => [
        `Authentication-Results: ${RECEIVER}; spf=fail smtp.mailfrom=${from}; dkim=none; dmarc=fail header.from=${from.split('@')[1]}`,
      ],
    ],
    [
      'a passing one forged below the receiving server’s failing one',
      (from: string) => [
        `Authentication-Results: ${RECEIVER}; dkim=none; spf=softfail smtp.mailfrom=${from}`,
        'Received: from evil',
        passing(from),
      ],
    ],
    ['a passing one from a server that is not trusted', (from: string) => [passing(from).replace(RECEIVER, 'mx.evil.test')]],
    ['a passing DKIM signature of another domain', () => [`Authentication-Results: ${RECEIVER}; dkim=pass header.d=evil.test`]],
  ])('with %s applies the lead’s own onReply, tells no colleague, and says why', async (_what, authentication) => {
    const fixture = await asNewAccount(service);
    const sequence = await sequenceWith(fixture, { onColleagueReply: 'stop' });
    const domain = `acme-${fixture.account.id.slice(0, 8)}.com`;
    const [replier, colleague] = await enrolMany(fixture, sequence.id, [`ceo@${domain}`, `ben@${domain}`]);
    await replies(fixture, replier!, `ceo@${domain}`, authentication(`ceo@${domain}`));
    await fixture.waitForStatus(replier!, 'replied');
    await settle();
    expect(await statusesOf([colleague!])).toEqual(['active']);
    const [stored] = await service.database.db.select().from(inboundMessages).where(eq(inboundMessages.enrolmentId, replier!));
    expect(stored!.senderAuthenticated).toBe(false);
    const [notification] = await notificationsOf(fixture.account.id);
    expect(notification!.body).toContain('Colleagues were not told: the sender could not be verified');
    const [entry] = await service.database.db
      .select()
      .from(enrolmentEvents)
      .where(and(eq(enrolmentEvents.enrolmentId, replier!), eq(enrolmentEvents.type, 'reply')));
    expect(entry!.detail).toMatchObject({ colleaguesNotTold: expect.stringContaining('could not be verified') });
  });

  it('is stored as authenticated when it is, and its notification says nothing of colleagues', async () => {
    const fixture = await asNewAccount(service);
    const sequence = await sequenceWith(fixture, { onColleagueReply: 'stop' });
    const domain = `acme-${fixture.account.id.slice(0, 8)}.com`;
    const [replier, colleague] = await enrolMany(fixture, sequence.id, [`ann@${domain}`, `ben@${domain}`]);
    await replies(fixture, replier!, `ann@${domain}`, [`Authentication-Results: ${RECEIVER}; dmarc=pass header.from=${domain}`]);
    await fixture.waitForStatus(colleague!, 'stopped');
    const [stored] = await service.database.db.select().from(inboundMessages).where(eq(inboundMessages.enrolmentId, replier!));
    expect(stored!.senderAuthenticated).toBe(true);
    expect((await notificationsOf(fixture.account.id))[0]!.body).not.toContain('Colleagues');
  });
});

describe('a colleague’s enrolment whose workflow has not started yet', () => {
  /** An enrolment committed whose workflow start has not happened (the API died, or the start is on its way). */
  async function unstarted(fixture: Fixture, sequenceId: string, email: string) {
    const imported = await fixture.api('POST', '/v1/leads/import', { leads: [{ email, firstName: 'Ben' }] });
    const [row] = await service.database.db
      .insert(enrolments)
      .values({
        accountId: fixture.account.id,
        sequenceId,
        leadId: imported.body.results[0].id,
        replyToken: randomUUID().replaceAll('-', ''),
      })
      .returning();
    return row!.id;
  }

  it.each(['stop', 'pause'] as const)('gets the %s before it plans or sends anything', async (onColleagueReply) => {
    const fixture = await asNewAccount(service);
    const sequence = await sequenceWith(fixture, { onColleagueReply });
    const domain = `acme-${fixture.account.id.slice(0, 8)}.com`;
    const [replier] = await enrolMany(fixture, sequence.id, [`ann@${domain}`]);
    const colleague = await unstarted(fixture, sequence.id, `ben@${domain}`);
    await replies(fixture, replier!, `ann@${domain}`);
    const row = await fixture.waitForStatus(colleague, onColleagueReply === 'stop' ? 'stopped' : 'paused');
    expect(row.workflowStartedAt).not.toBeNull();
    await settle();
    expect(await fixture.sentMessages(colleague)).toEqual([]);
    // The workflow is the one every start finds: a start arriving late starts nothing anew.
    const described = await service.temporal.workflow.getHandle(`enrolment-${colleague}`).describe();
    expect(described.status.name).toBe(onColleagueReply === 'stop' ? 'COMPLETED' : 'RUNNING');
  });
});

describe('a pause carried to colleagues', () => {
  it('pauses the active ones and leaves one a person paused as it was, without a second pause', async () => {
    const fixture = await asNewAccount(service);
    const sequence = await sequenceWith(fixture, { onColleagueReply: 'pause' });
    const domain = `acme-${fixture.account.id.slice(0, 8)}.com`;
    const [replier, active, pausedByPerson] = await enrolMany(fixture, sequence.id, [`ann@${domain}`, `ben@${domain}`, `cat@${domain}`]);
    expect((await fixture.api('POST', `/v1/enrolments/${pausedByPerson}/pause`)).status).toBeLessThan(300);
    await fixture.waitForStatus(pausedByPerson!, 'paused');
    await replies(fixture, replier!, `ann@${domain}`);
    await fixture.waitForStatus(active!, 'paused');
    await settle();
    expect(await pauseSignalsOf(active!)).toBe(1);
    expect(await pauseSignalsOf(pausedByPerson!)).toBe(0);
    const [row] = await service.database.db.select().from(enrolments).where(eq(enrolments.id, pausedByPerson!));
    expect(row!.status).toBe('paused');
  });
});

describe('a reply marked through the API', () => {
  it('reaches colleagues as an emailed reply does, once per reply', async () => {
    const fixture = await asNewAccount(service);
    const sequence = await sequenceWith(fixture, { onColleagueReply: 'pause', onReply: 'pause' });
    const domain = `acme-${fixture.account.id.slice(0, 8)}.com`;
    const [replier, colleague] = await enrolMany(fixture, sequence.id, [`ann@${domain}`, `ben@${domain}`]);
    expect((await fixture.api('POST', `/v1/enrolments/${replier}/reply`)).status).toBeLessThan(300);
    await fixture.waitForStatus(colleague!, 'paused');
    const entries = await service.database.db
      .select()
      .from(enrolmentEvents)
      .where(and(eq(enrolmentEvents.enrolmentId, colleague!), eq(enrolmentEvents.type, 'status_changed')));
    expect(entries.map((e) => e.detail)).toContainEqual({ reason: `a colleague replied: ann@${domain}` });

    // A person resumes the colleague; the same reply marked again (a retry) pauses nobody again.
    expect((await fixture.api('POST', `/v1/enrolments/${colleague}/resume`)).status).toBeLessThan(300);
    await fixture.waitForStatus(colleague!, 'active');
    expect((await fixture.api('POST', `/v1/enrolments/${replier}/reply`)).status).toBeLessThan(300);
    await settle();
    expect(await statusesOf([colleague!])).toEqual(['active']);
    expect(await pauseSignalsOf(colleague!)).toBe(1);
  });
});

describe('a reply that paused colleagues, corrected by the user to an auto-reply', () => {
  it('resumes the colleagues it paused, and leaves one a person paused since', async () => {
    const fixture = await asNewAccount(service);
    const sequence = await sequenceWith(fixture, { onColleagueReply: 'pause', onReply: 'stop' });
    const domain = `acme-${fixture.account.id.slice(0, 8)}.com`;
    const [replier, ben, cy, dee] = await enrolMany(fixture, sequence.id, [
      `ann@${domain}`,
      `ben@${domain}`,
      `cy@${domain}`,
      `dee@${domain}`,
    ]);
    await replies(fixture, replier!, `ann@${domain}`);
    await allBecome([ben!, cy!, dee!], 'paused');
    // A person acts on one of them since: resumed and paused again, the pause is theirs now.
    expect((await fixture.api('POST', `/v1/enrolments/${dee}/resume`)).status).toBeLessThan(300);
    expect((await fixture.api('POST', `/v1/enrolments/${dee}/pause`)).status).toBeLessThan(300);
    const [inbound] = await service.database.db.select().from(inboundMessages).where(eq(inboundMessages.enrolmentId, replier!));
    const corrected = await fixture.api('POST', `/v1/inbound-emails/${inbound!.id}/classification`, { class: 'auto_reply' });
    expect(corrected.status, JSON.stringify(corrected.body)).toBe(200);
    expect(corrected.body.effect).toContain("the lead's colleagues it paused resume");
    await allBecome([ben!, cy!], 'active');
    await settle();
    expect(await statusesOf([dee!])).toEqual(['paused']);
  });
});

describe('a second reply from the same lead, corrected to an auto-reply, while the first one’s pause holds', () => {
  it('resumes no colleague: the pauses are the first reply’s', async () => {
    const fixture = await asNewAccount(service);
    const sequence = await sequenceWith(fixture, { onColleagueReply: 'pause', onReply: 'pause' });
    const domain = `acme-${fixture.account.id.slice(0, 8)}.com`;
    const [replier, ben] = await enrolMany(fixture, sequence.id, [`ann@${domain}`, `ben@${domain}`]);
    await replies(fixture, replier!, `ann@${domain}`);
    await fixture.waitForStatus(ben!, 'paused');
    await fixture.waitForStatus(replier!, 'paused');
    expect((await fixture.api('POST', `/v1/enrolments/${replier}/resume`)).status).toBeLessThan(300);
    await fixture.waitForStatus(replier!, 'active');
    await replies(fixture, replier!, `ann@${domain}`);
    const second = await eventually(
      async () => {
        const rows = await service.database.db.select().from(inboundMessages).where(eq(inboundMessages.enrolmentId, replier!));
        return rows.length === 2 ? rows.sort((a, b) => a.receivedAt.getTime() - b.receivedAt.getTime())[1] : undefined;
      },
      { what: 'the second reply recorded' },
    );
    await settle();
    const corrected = await fixture.api('POST', `/v1/inbound-emails/${second.id}/classification`, { class: 'auto_reply' });
    expect(corrected.status, JSON.stringify(corrected.body)).toBe(200);
    await settle();
    expect(await statusesOf([ben!])).toEqual(['paused']);
  });
});
