import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { inboundWorldForFile, type InboundWorld } from './helpers/inbound.js';
import type { ResendSink } from './helpers/resend-sink.js';
import { eventually } from './helpers/service.js';

/**
 * Issue 14, section 5: who may stop a lead's sequence by writing to its reply address. The From
 * address is compared with the lead's: the lead, or someone at the lead's domain, applies the
 * sequence's onReply; anyone else is recorded, shown and flagged as such, and changes nothing.
 */
let sink: ResendSink;
let world: InboundWorld;
inboundWorldForFile((s, w) => ([sink, world] = [s, w]));

const forwardTo = (address: string) =>
  eventually(async () => sink.emails.find((e) => e.payload.to === address), { what: `a forward to ${address}` });

describe('an email from a stranger to a lead’s reply address', () => {
  it('is recorded as from another address and flagged, but does not stop the sequence or mark it replied', async () => {
    const lead = await world.leadWaitingForStep2();
    const answer = await world.receiveThroughResend({
      from: 'Mallory <mallory@evil.test>',
      to: lead.replyAddress,
      subject: 'Re: Step 1',
      text: 'Stop mailing Ann.',
    });
    expect(answer.status).toBe(200);
    const [stored] = await world.inboundOf(lead.enrolment.id);
    expect(stored).toMatchObject({ fromEmail: 'mallory@evil.test', sender: 'other', isAutoReply: false });
    const row = await lead.enrolmentRow(lead.enrolment.id);
    expect([row.status, row.repliedAt]).toEqual(['active', null]);
    const types = await world.timelineTypes(lead.enrolment.id);
    expect(types).toContain('reply_from_other_address');
    expect(types).not.toContain('reply');
    const [notification] = await world.notificationsOf(lead.account.id);
    expect(notification).toMatchObject({
      type: 'reply_from_other_address',
      title: 'mallory@evil.test wrote to the reply address of Ann Lead\'s sequence "Spring outreach" (to Sam Seller)',
    });
  });

  it('is forwarded saying who actually wrote, with Reply-To the writer', async () => {
    const lead = await world.leadWaitingForStep2();
    await world.receiveThroughResend({ from: 'Mallory <mallory@evil.test>', to: lead.replyAddress, text: 'I am Ann, honest.' });
    const forward = await forwardTo(lead.account.senderEmail!);
    expect(forward.payload.reply_to).toBe('mallory@evil.test');
    expect(forward.payload.from).toMatch(/^"mallory@evil\.test via Sequences"/);
    expect(forward.payload.text).toMatch(
      /^mallory@evil\.test wrote to the reply address of Ann Lead's sequence "Spring outreach"\. This is not the lead's address/,
    );
  });

  it('reaches the portal carrying who wrote', async () => {
    const lead = await world.leadWaitingForStep2();
    await world.db.execute(
      `update accounts set portal_webhook_url = 'https://portal.test/hooks', portal_webhook_secret = 'whsec_dGVzdHNlY3JldHRlc3RzZWNyZXQ=' where id = '${lead.account.id}'`,
    );
    await world.receiveThroughResend({ from: 'mallory@evil.test', to: lead.replyAddress });
    const [stored] = await world.inboundOf(lead.enrolment.id);
    const event = await world.portalEvent(`portal-webhook-reply-${stored!.id}`);
    expect(event).toMatchObject({
      type: 'reply.received',
      data: { sender: 'other', from: 'mallory@evil.test', enrolmentId: lead.enrolment.id },
    });
  });
});

describe('a reply from a colleague at the lead’s domain', () => {
  it('applies the sequence’s onReply, and the forward names the colleague', async () => {
    const domain = `acme-${randomUUID().slice(0, 8)}.test`;
    const lead = await world.leadWaitingForStep2({ leadEmail: `ann@${domain}` });
    await world.receiveThroughResend({ from: `Bob <bob@${domain.toUpperCase()}>`, to: lead.replyAddress });
    await lead.waitForStatus(lead.enrolment.id, 'replied');
    const [stored] = await world.inboundOf(lead.enrolment.id);
    expect(stored!.sender).toBe('lead_domain');
    const forward = await forwardTo(lead.account.senderEmail!);
    expect(forward.payload.reply_to).toBe(`bob@${domain}`);
    expect(forward.payload.text).toMatch(new RegExp(`^bob@${domain}, at the domain of Ann Lead, replied`));
  });
});

describe('the forward of a reply', () => {
  it('carries the inbound subject on one line: CR/LF and control characters never reach its headers', async () => {
    const lead = await world.leadWaitingForStep2();
    await world.receiveThroughResend({
      from: lead.lead.email,
      to: lead.replyAddress,
      subject: 'Re: Step 1\r\nBcc: victim@evil.test\u0007\u0085',
    });
    const forward = await forwardTo(lead.account.senderEmail!);
    expect(forward.payload.subject).toBe('Re: Step 1 Bcc: victim@evil.test');
  });

  it('goes only to a confirmed sender address: otherwise it is skipped with a reason, and the notification remains', async () => {
    const lead = await world.leadWaitingForStep2({ confirmed: false });
    await world.receiveThroughResend({ from: lead.lead.email, to: lead.replyAddress });
    await lead.waitForStatus(lead.enrolment.id, 'replied');
    const [stored] = await world.inboundOf(lead.enrolment.id);
    const result = await world.service.temporal.workflow.getHandle(`reply-forward-${stored!.id}`).result();
    expect(result).toEqual({ forwarded: false, reason: 'its sender has not confirmed their address' });
    expect(sink.emails.filter((e) => e.payload.to === lead.account.senderEmail)).toEqual([]);
    expect((await world.notificationsOf(lead.account.id)).map((n) => n.type)).toEqual(['reply']);
  });
});
