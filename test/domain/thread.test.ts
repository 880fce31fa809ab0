import { describe, expect, it } from 'vitest';
import { goesInThread, normaliseMessageId, quoteOf, threadReply, type PreviousEmail } from '../../domain/thread.js';

// domain/thread.ts: how a follow-up replies in the thread of the enrolment's previous email.

const previous = (overrides: Partial<PreviousEmail> = {}): PreviousEmail => ({
  messageId: '<m2@us-east-1.amazonses.com>',
  subject: 'Re: Idea for Ada',
  threadSubject: 'Idea for Ada',
  references: ['<m1@us-east-1.amazonses.com>'],
  sentAt: new Date('2026-12-01T09:30:00Z'),
  bodyText: 'Hi Ada,\nquick idea.',
  from: '"Ann Rep" <ann@acme.test>',
  ...overrides,
});

describe('a reply in the thread', () => {
  it('says Re: the thread’s subject, replies to the previous email and references the chain', () => {
    expect(threadReply(previous())).toEqual({
      subject: 'Re: Idea for Ada',
      threadSubject: 'Idea for Ada',
      references: ['<m1@us-east-1.amazonses.com>', '<m2@us-east-1.amazonses.com>'],
      headers: {
        'In-Reply-To': '<m2@us-east-1.amazonses.com>',
        References: '<m1@us-east-1.amazonses.com> <m2@us-east-1.amazonses.com>',
      },
    });
  });

  it('threads on the subject of an email from before threads (no thread subject kept): the one it was sent with', () => {
    const reply = threadReply(previous({ threadSubject: null, subject: 'Hello Ada', references: [] }));
    expect([reply.subject, reply.headers.References]).toEqual(['Re: Hello Ada', '<m2@us-east-1.amazonses.com>']);
  });

  it.each(['Re: Already', 'RE : Already', 'AW: Schon', 'Sv: Redan'])('does not add a second prefix to %s', (subject) => {
    expect(threadReply(previous({ threadSubject: subject })).subject).toBe(subject);
  });

  it('keeps the first id and the latest ones of a long chain, at most 20', () => {
    const chain = Array.from({ length: 30 }, (_, i) => `<m${i}@x.test>`);
    const reply = threadReply(previous({ references: chain, messageId: '<last@x.test>' }));
    expect(reply.references).toHaveLength(20);
    expect(reply.references[0]).toBe('<m0@x.test>');
    expect(reply.references.at(-1)).toBe('<last@x.test>');
    expect(reply.references[1]).toBe('<m12@x.test>');
  });

  it('keeps the References header within a line’s 998 characters, the first and the latest ids kept', () => {
    const long = (i: number) => `<${String(i).padStart(3, '0')}${'x'.repeat(190)}@mail.example.test>`;
    const reply = threadReply(previous({ references: Array.from({ length: 10 }, (_, i) => long(i)), messageId: long(99) }));
    expect(reply.headers.References.length).toBeLessThanOrEqual(900);
    expect([reply.references[0], reply.references.at(-1)]).toEqual([long(0), long(99)]);
  });

  it('drops a stored reference that is no Message-ID instead of putting it in a header', () => {
    const reply = threadReply(previous({ references: ['<ok@x.test>', '<bad\r\nBcc: victim@x.test>', 'not-bracketed@x.test'] }));
    expect(reply.references).toEqual(['<ok@x.test>', '<m2@us-east-1.amazonses.com>']);
  });
});

describe('a Message-ID reported by the provider', () => {
  it.each([
    ['<abc@us-east-1.amazonses.com>', '<abc@us-east-1.amazonses.com>'],
    ['abc@us-east-1.amazonses.com', '<abc@us-east-1.amazonses.com>'],
    [' <abc@x.test> ', '<abc@x.test>'],
  ])('is kept with its brackets: %s', (value, expected) => {
    expect(normaliseMessageId(value)).toBe(expected);
  });

  it.each([
    null,
    undefined,
    42,
    '',
    '<>',
    '<no-at-sign>',
    '<a@b>\r\nBcc: victim@x.test',
    '<a b@c>',
    `<${'a'.repeat(300)}@x.test>`,
    `<${'a'.repeat(150)}@${'b'.repeat(150)}.test>`,
  ])('is refused when it could not be a header value: %s', (value) => {
    expect(normaliseMessageId(value)).toBeNull();
  });
});

describe('which steps go in the thread', () => {
  it('by default every step after the first; a step’s own choice wins', () => {
    expect([1, 2, 3].map((position) => goesInThread({ inThread: null }, position))).toEqual([false, true, true]);
    expect(goesInThread({ inThread: false }, 2)).toBe(false);
    expect(goesInThread({ inThread: true }, 1)).toBe(true);
  });
});

describe('the quote of the previous email', () => {
  it('is introduced as mail clients do, in the lead’s time zone', () => {
    expect(quoteOf(previous(), 'America/New_York')).toEqual({
      intro: 'On Tue, 1 Dec 2026 at 04:30, "Ann Rep" <ann@acme.test> wrote:',
      text: 'Hi Ada,\nquick idea.',
    });
  });

  it('is left out for an email from before its body was kept', () => {
    expect(quoteOf(previous({ bodyText: null }), 'UTC')).toBeNull();
  });
});
