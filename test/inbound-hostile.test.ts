import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { inboundWorldForFile, type InboundWorld } from './helpers/inbound.js';

/**
 * Issue 14, section 4: whatever a stranger puts in an email to a reply address, the reply is
 * recorded (as text PostgreSQL can store, every field bounded), the workflow hears of it, and
 * the answer is a 2xx or a documented 4xx, never a 500 the provider retries forever.
 */
let world: InboundWorld;
inboundWorldForFile((_sink, w) => (world = w));

/** Posts `mime` and expects the reply to be recorded, the sequence stopped; answers the stored reply. */
async function expectRecordedAndStopped(
  lead: Awaited<ReturnType<typeof world.leadWaitingForStep2>>,
  answer: { status: number; body: Record<string, unknown> },
) {
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  expect(answer.body.outcome).toBe('reply recorded');
  await lead.waitForStatus(lead.enrolment.id, 'replied');
  const [stored] = await world.inboundOf(lead.enrolment.id);
  expect(stored).toBeDefined();
  return stored!;
}

describe('a reply holding NUL bytes', () => {
  it('as quoted-printable =00 in raw MIME is recorded without them and stops the sequence', async () => {
    const lead = await world.leadWaitingForStep2();
    const mime = world.mimeReply(lead.replyAddress, lead.lead.email, {
      head: ['Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: quoted-printable'],
      body: 'Call me=00 on Tuesday=00=00.',
    });
    const stored = await expectRecordedAndStopped(lead, await world.postMime(mime));
    expect(stored.text).toBe('Call me on Tuesday.');
  });

  it('raw in the MIME subject, a header and the body is recorded without them and stops the sequence', async () => {
    const lead = await world.leadWaitingForStep2();
    const mime = world.mimeReply(lead.replyAddress, lead.lead.email, {
      subject: 'Re: St\u0000ep 1',
      head: ['Content-Type: text/plain', 'X-Junk: a\u0000b'],
      body: 'Yes\u0000 please',
    });
    const stored = await expectRecordedAndStopped(lead, await world.postMime(Buffer.from(mime, 'latin1')));
    expect([stored.subject, stored.text]).toEqual(['Re: St ep 1', 'Yes please']);
  });

  it('through the Resend webhook (subject, text and headers) is recorded without them and stops the sequence', async () => {
    const lead = await world.leadWaitingForStep2();
    const answer = await world.receiveThroughResend({
      from: lead.lead.email,
      to: lead.replyAddress,
      subject: 'Re: Step\u0000 1',
      text: 'Sounds\u0000 good',
      headers: { 'x-junk\u0000': 'a\u0000b', 'in-reply-to': '<\u0000>' },
    });
    const stored = await expectRecordedAndStopped(lead, answer);
    expect([stored.subject, stored.text]).toEqual(['Re: Step 1', 'Sounds good']);
  });
});

describe('a reply holding unpaired UTF-16 surrogates', () => {
  it('through the Resend webhook is recorded without them and stops the sequence', async () => {
    const lead = await world.leadWaitingForStep2();
    const answer = await world.receiveThroughResend({
      from: lead.lead.email,
      to: lead.replyAddress,
      subject: 'Re: \ud800Step 1',
      text: 'ok \udfff😀 fine\ud83d',
      headers: { 'x-\udc00': '\ud800' },
    });
    const stored = await expectRecordedAndStopped(lead, answer);
    expect([stored.subject, stored.text]).toEqual(['Re: Step 1', 'ok 😀 fine']);
  });
});

describe('a reply with a 1 MB header', () => {
  it('through raw MIME is recorded and stops the sequence', async () => {
    const lead = await world.leadWaitingForStep2();
    const mime = world.mimeReply(lead.replyAddress, lead.lead.email, {
      head: ['Content-Type: text/plain', `X-Junk: ${'a'.repeat(1024 * 1024)}`],
      body: 'Still here.',
    });
    const stored = await expectRecordedAndStopped(lead, await world.postMime(mime));
    expect(stored.text).toBe('Still here.');
  });

  it('as 1 MB of subject through raw MIME is recorded with the subject cut to one line of 998 characters', async () => {
    const lead = await world.leadWaitingForStep2();
    const mime = world.mimeReply(lead.replyAddress, lead.lead.email, { subject: `Re: ${'s'.repeat(1024 * 1024)}` });
    const stored = await expectRecordedAndStopped(lead, await world.postMime(mime));
    expect(stored.subject.length).toBe(998);
  });
});

describe('a reply with an 8 KB Message-ID', () => {
  it('is recorded (its provider id cut to 500 characters: it is indexed) and stops the sequence', async () => {
    const lead = await world.leadWaitingForStep2();
    const mime = world.mimeReply(lead.replyAddress, lead.lead.email, { messageId: `<${'m'.repeat(8_000)}@lead.test>` });
    const stored = await expectRecordedAndStopped(lead, await world.postMime(mime));
    expect(stored.providerId!.length).toBe(500);
  });
});

describe('a reply whose MIME structure the parser refuses (1,000 parts)', () => {
  it('is recorded from its headers, with a note for its body, and stops the sequence', async () => {
    const lead = await world.leadWaitingForStep2();
    const parts = Array.from({ length: 1000 }, (_, i) => `--b\r\nContent-Type: text/plain\r\n\r\npart ${i}\r\n`).join('');
    const mime = world.mimeReply(lead.replyAddress, lead.lead.email, {
      head: ['Content-Type: multipart/mixed; boundary=b'],
      body: `${parts}--b--\r\n`,
    });
    const stored = await expectRecordedAndStopped(lead, await world.postMime(mime));
    expect(stored.text).toMatch(/^\[The body of this email could not be read/);
  });
});

describe('parsing a pathological message', () => {
  it('does not hold the Node thread: 20 MB of HTML-only reply is read without a long pause', async () => {
    const lead = await world.leadWaitingForStep2();
    const html = '<div><p>hi <b>there</b></p></div>'.repeat((20 * 1024 * 1024) / 34);
    const mime = world.mimeReply(lead.replyAddress, lead.lead.email, { head: ['Content-Type: text/html; charset=utf-8'], body: html });
    // The service runs in this process: how late a 10 ms timer fires is how long its thread was held.
    let slowest = 0;
    let last = performance.now();
    const probe = setInterval(() => {
      const now = performance.now();
      slowest = Math.max(slowest, now - last);
      last = now;
    }, 10);
    const answer = await world.postMime(mime);
    clearInterval(probe);
    expect(answer.status).toBe(200);
    // Without mailparser's limits this HTML held the thread for about 10 s; bounded, ~0.2 s.
    expect(slowest).toBeLessThan(2_000);
  });
});

describe('/inbound/mime with a wrong secret', () => {
  it('is refused with 401 before its body is read', async () => {
    const url = new URL(`${world.service.baseUrl}/inbound/mime`);
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request({
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: { authorization: 'Bearer wrong', 'content-type': 'message/rfc822', 'content-length': String(20 * 1024 * 1024) },
      });
      req.on('response', (res) => {
        resolve(res.statusCode ?? 0);
        res.resume();
        req.destroy();
      });
      req.on('error', reject);
      // A few bytes of the announced 20 MB: the answer must come without the rest.
      req.write('From: <mallory@evil.test>\r\n');
      setTimeout(() => reject(new Error('no answer before the body was sent')), 5_000);
    });
    expect(status).toBe(401);
  });
});
