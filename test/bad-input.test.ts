import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asNewAccount } from './helpers/fixtures.js';
import type { ResendSink } from './helpers/resend-sink.js';
import { eventually, startServiceWithSink, type ServiceWithSink, type TestService } from './helpers/service.js';
import { accountSnapshot } from './helpers/snapshot.js';

/**
 * What the API does with input nobody should send: every refusal is a structured error (status,
 * machine code, message, the field when there is one); nothing is half-stored; nothing a lead or
 * a template contains escapes into markup or reaches beyond the merge fields.
 */
let started: ServiceWithSink | undefined;
let sink: ResendSink;
let service: TestService;
beforeAll(async () => {
  ({ service, sink } = started = await startServiceWithSink());
});
afterAll(() => started?.stop());

/** A raw request with the account's key: body and content type exactly as given. */
async function raw(apiKey: string, method: string, path: string, body: string | Buffer | undefined, contentType?: string) {
  const res = await fetch(`${service.baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${apiKey}`, ...(contentType ? { 'content-type': contentType } : {}) },
    body,
  });
  const text = await res.text();
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    body: JSON.parse(text) as { error: { code: string; message: string; field?: string } },
  };
}

const structured = (status: number, code: string, field?: string) => ({
  status,
  contentType: expect.stringContaining('application/json'),
  body: { error: { code, message: expect.any(String), ...(field ? { field } : {}) } },
});

describe('a request with malformed JSON', () => {
  it('is refused with 400 malformed_json and stores nothing', async () => {
    const { apiKey, account } = await asNewAccount(service);
    const before = await accountSnapshot(service.database.db, account.id);
    // Top-level scalars are not JSON bodies either (the parser is strict).
    for (const body of [
      '{"firstName": "Ada",}',
      '{"firstName": "Ada"',
      "{'firstName': 'Ada'}",
      '{"firstName": NaN}',
      'null',
      '"just a string"',
      '\u0000',
    ]) {
      expect(await raw(apiKey, 'POST', '/v1/leads', body, 'application/json'), body).toEqual(structured(400, 'malformed_json'));
    }
    // Well-formed JSON of the wrong shape is a validation error instead.
    expect(await raw(apiKey, 'POST', '/v1/leads', '[{"firstName": "Ada"}]', 'application/json')).toEqual(
      structured(400, 'validation_error'),
    );
    expect(await accountSnapshot(service.database.db, account.id)).toEqual(before);
  });
});

describe('an oversized body', () => {
  it('is refused with 413 payload_too_large before it is parsed', async () => {
    const { apiKey } = await asNewAccount(service);
    const huge = JSON.stringify({
      name: 'Big',
      steps: [{ subject: 's', body: 'x'.repeat(6 * 1024 * 1024), delay: { amount: 0, unit: 'minutes' } }],
    });
    expect(await raw(apiKey, 'POST', '/v1/sequences', huge, 'application/json')).toEqual(structured(413, 'payload_too_large'));
  });

  it('within the transport limit but over a field’s limit is a 400 naming the field', async () => {
    const { api } = await asNewAccount(service);
    const res = await api('POST', '/v1/sequences', {
      name: 'Long',
      steps: [{ subject: 's', body: 'x'.repeat(100_001), delay: { amount: 0, unit: 'minutes' } }],
    });
    expect(res.body).toEqual({ error: { code: 'validation_error', field: 'steps.0.body', message: expect.any(String) } });
  });
});

describe('a body nested deeper than any of ours', () => {
  it('is a 400 that says so, not a crash of the request (100,000 levels within the size limit)', async () => {
    const { apiKey } = await asNewAccount(service);
    const deep = `{"name":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    const res = await raw(apiKey, 'POST', '/v1/leads', deep, 'application/json');
    expect(res).toEqual(structured(400, 'validation_error'));
    expect(res.body.error.message).toContain('nested more than 64 levels');
  });
});

describe('a body in the wrong content type', () => {
  it('is refused with 415, not read as an empty body', async () => {
    const { apiKey, account } = await asNewAccount(service);
    const before = await accountSnapshot(service.database.db, account.id);
    const lead = JSON.stringify({ email: 'typed@example.com' });
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml']) {
      expect(await raw(apiKey, 'POST', '/v1/leads', lead, type), type).toEqual(structured(415, 'unsupported_media_type'));
    }
    expect(await raw(apiKey, 'POST', '/v1/leads', lead, 'application/json; charset=koi8-whatever')).toEqual(
      structured(415, 'unsupported_encoding'),
    );
    expect(await accountSnapshot(service.database.db, account.id)).toEqual(before);
  });

  it('and no body at all where one is required is a 400, not a blank record', async () => {
    const { apiKey, account } = await asNewAccount(service);
    const before = await accountSnapshot(service.database.db, account.id);
    expect(await raw(apiKey, 'POST', '/v1/leads', undefined)).toEqual(structured(400, 'validation_error'));
    expect(await raw(apiKey, 'POST', '/v1/leads', '', 'application/json')).toEqual(structured(400, 'validation_error'));
    expect(await raw(apiKey, 'PATCH', '/v1/account', '', 'application/json')).toEqual(structured(400, 'validation_error'));
    expect(await accountSnapshot(service.database.db, account.id)).toEqual(before);
  });

  it('but a request without a body that names JSON is answered (a client sending the header on every GET)', async () => {
    const { apiKey } = await asNewAccount(service);
    expect((await raw(apiKey, 'GET', '/v1/account', undefined, 'application/json')).status).toBe(200);
    expect((await raw(apiKey, 'GET', '/v1/account', undefined, 'application/json; charset=utf-8')).status).toBe(200);
    expect(await raw(apiKey, 'GET', '/v1/account', undefined, 'text/plain')).toEqual(structured(415, 'unsupported_media_type'));
  });
});

/** Text that trips up naive code: other scripts, combining marks, right-to-left, emoji, invisible characters, quotes. */
const UNICODE = [
  'Zoë Ångström-Øvergård',
  '李小龍 山田太郎',
  'مرحبا بالعالم',
  'e\u0301 n\u0303 (combining)',
  'Family 👨‍👩‍👧‍👦 🏳️‍🌈',
  'zero\u200bwidth\u2060joiner',
  `quotes "double" 'single' \\ backslash`,
  '\u202Eright-to-left override',
];

describe('unicode and very long values in every text field', () => {
  const leadFields = { firstName: 200, lastName: 200, company: 200, title: 200, phone: 50 } as const;
  const accountFields = { name: 200, senderName: 200, signature: 5000, companyName: 200, postalAddress: 500 } as const;

  it('are stored and answered back intact, up to each field’s limit', async () => {
    const { api, createSequence } = await asNewAccount(service);
    for (const [index, text] of UNICODE.entries()) {
      const values = Object.fromEntries(Object.entries(leadFields).map(([field, max]) => [field, text.slice(0, max)]));
      const created = await api('POST', '/v1/leads', { ...values, customFields: { note: text } });
      expect(created.status, text).toBe(201);
      expect((await api('GET', `/v1/leads/${created.body.id}`)).body).toMatchObject({ ...values, customFields: { note: text } });
      const account = await api(
        'PATCH',
        '/v1/account',
        Object.fromEntries(Object.keys(accountFields).map((field) => [field, `${text} ${index}`])),
      );
      expect(account.body).toMatchObject(Object.fromEntries(Object.keys(accountFields).map((field) => [field, `${text} ${index}`])));
      const sequence = await createSequence({
        name: text,
        steps: [{ subject: text, body: `${text} {{ first_name | default: "there" }}` }],
      });
      expect((await api('GET', `/v1/sequences/${sequence.id}`)).body).toMatchObject({ name: text, steps: [{ subject: text }] });
    }
    const longest = Object.fromEntries(Object.entries(leadFields).map(([field, max]) => [field, 'é'.repeat(max)]));
    expect((await api('POST', '/v1/leads', longest)).body).toMatchObject(longest);
  });

  it('are refused one character over the limit, naming the field', async () => {
    const { api } = await asNewAccount(service);
    for (const [field, max] of Object.entries(leadFields)) {
      expect((await api('POST', '/v1/leads', { [field]: 'é'.repeat(max + 1) })).body, field).toEqual({
        error: { code: 'validation_error', field, message: expect.any(String) },
      });
    }
    for (const [field, max] of Object.entries(accountFields)) {
      expect((await api('PATCH', '/v1/account', { [field]: 'é'.repeat(max + 1) })).body, field).toEqual({
        error: { code: 'validation_error', field, message: expect.any(String) },
      });
    }
    expect((await api('POST', '/v1/leads', { customFields: { note: 'x'.repeat(2001) } })).body.error).toMatchObject({
      code: 'validation_error',
      field: 'customFields.note',
    });
    expect((await api('POST', '/v1/sequences', { name: 'n'.repeat(201) })).body.error).toMatchObject({
      code: 'validation_error',
      field: 'name',
    });
    expect(
      (
        await api('POST', '/v1/sequences', {
          name: 'ok',
          steps: [{ subject: 's'.repeat(999), body: 'b', delay: { amount: 0, unit: 'days' } }],
        })
      ).body.error,
    ).toMatchObject({ field: 'steps.0.subject' });
  });

  it('are refused with the field named when PostgreSQL could not store them as sent (NUL, lone surrogates)', async () => {
    const { api, account } = await asNewAccount(service);
    const before = await accountSnapshot(service.database.db, account.id);
    expect((await api('POST', '/v1/leads', { firstName: 'Ada\u0000' })).body).toEqual({
      error: { code: 'validation_error', field: 'firstName', message: expect.stringContaining('NUL') },
    });
    expect((await api('POST', '/v1/leads', { customFields: { note: 'half \ud83d' } })).body.error).toMatchObject({
      code: 'validation_error',
      field: 'customFields.note',
    });
    expect(
      (await api('POST', '/v1/leads/import', { leads: [{ email: 'ok@example.com' }, { company: '\u0000' }] })).body.error,
    ).toMatchObject({ code: 'validation_error', field: 'leads.1.company' });
    expect((await api('GET', '/v1/leads?search=%00')).body.error).toMatchObject({ code: 'validation_error', field: 'search' });
    expect(await accountSnapshot(service.database.db, account.id)).toEqual(before);
  });
});

describe('HTML and script in lead fields', () => {
  const attack = {
    firstName: '<script>alert("first")</script>',
    lastName: '<img src=x onerror=alert(1)>',
    company: '"><b onmouseover=alert(2)>Acme</b>',
    title: "</p><iframe src='https://evil.test'></iframe>",
    customFields: { note: '<a href="javascript:alert(3)">click</a>' },
  };

  it('are escaped in the email the lead receives, and shown as text', async () => {
    const fixture = await asNewAccount(service);
    const sequence = await fixture.createSequence({
      steps: [
        { subject: 'Hi {{ first_name }}', body: 'Hello {{ first_name }} {{ last_name }} of {{ company }}, {{ title }}. {{ custom.note }}' },
      ],
    });
    const lead = await fixture.createLead(attack);
    await fixture.enrolLead(sequence.id, lead.id);
    const email = await eventually(async () => sink.emails.find((e) => e.payload.to === lead.email), { what: 'the email at the sink' });
    const html = email.payload.html!;
    for (const markup of ['<script', '<img src=x', '<iframe', '<b onmouseover', '<a href="javascript:']) expect(html).not.toContain(markup);
    expect(html).toContain('&lt;script&gt;alert(&quot;first&quot;)&lt;/script&gt;');
    expect(email.payload.text).toContain('<script>alert("first")</script>');
    // The subject is plain text, so it carries the name as typed.
    expect(email.payload.subject).toBe(`Hi ${attack.firstName}`);
  });

  it('are escaped on the unsubscribe page, with the sender’s name as the company', async () => {
    const fixture = await asNewAccount(service, { senderName: '<script>window.pwned=1</script>Sam', companyName: '' });
    const sequence = await fixture.createSequence();
    const lead = await fixture.createLead(attack);
    await fixture.enrolLead(sequence.id, lead.id);
    const email = await eventually(async () => sink.emails.find((e) => e.payload.to === lead.email), { what: 'the email at the sink' });
    const link = /<(https:\/\/sequences\.test\/u\/[^>]+)>/.exec(email.payload.headers!['List-Unsubscribe']!)![1]!;
    const page = await (await fetch(link.replace('https://sequences.test', service.baseUrl))).text();
    expect(page).not.toContain('<script>window.pwned');
    expect(page).toContain('&lt;script&gt;window.pwned=1&lt;/script&gt;Sam');
  });
});

describe('merge tags that try to reach outside the lead', () => {
  const escapes = [
    '{{ lead.constructor }}',
    '{{ this }}',
    '{{ constructor.name }}',
    '{{ first_name.constructor }}',
    '{{ __proto__ }}',
    '{{ sender.constructor.constructor }}',
    '{{ process.env.UNSUBSCRIBE_SECRET }}',
    '{{ global }}',
    '{{ custom }}',
    '{% assign x = custom %}{{ x.constructor.name }}',
    '{% include "package.json" %}',
    '{% render ".env" %}',
    '{% layout "config.ts" %}',
    '{% include "/etc/passwd" %}',
    '{% for i in (1..100000000) %}x{% endfor %}',
    // Names every object answers to are no custom field (issue 14 §7: they passed the missing-field check).
    '{{ custom.constructor }}',
    '{{ custom.__proto__ }}',
    '{{ custom["constructor"] }}',
    '{{ "a" | append: custom.toString }}',
  ];
  // Fields the lead does not have, looked up on objects without a prototype: they print nothing.
  const harmless = [
    '{{ custom.not_set | default: "" }}',
    '{{ custom.nothing }}',
    '{{ "" | append: custom.absent }}',
    '{{ "a" | append: custom.missing }}',
  ];

  it('are refused when a step is saved (422, naming the field), never a 5xx', async () => {
    const { api, createSequence } = await asNewAccount(service);
    const sequence = await createSequence();
    for (const tag of escapes) {
      const res = await api('POST', `/v1/sequences/${sequence.id}/steps`, {
        subject: 'Hi',
        body: `Hello ${tag}`,
        delay: { amount: 1, unit: 'days' },
      });
      expect([res.status, res.body.error?.field], tag).toEqual([422, 'body']);
      expect(res.body.error.code, tag).toMatch(/^(unknown_merge_tag|invalid_template)$/);
      const oneOff = await api(
        'POST',
        `/v1/leads/${(await api('POST', '/v1/leads', { email: `x-${Math.random()}@example.com` })).body.id}/emails`,
        { subject: tag, body: 'b' },
      );
      expect([oneOff.status, oneOff.body.error?.field], tag).toEqual([422, 'subject']);
    }
  });

  it('that are allowed print nothing of the process, the prototype chain or the file system', async () => {
    const { api, createSequence, createLead } = await asNewAccount(service);
    const lead = await createLead({ customFields: { plan: 'gold' } });
    const sequence = await createSequence({ steps: [{ subject: 'Hi', body: `Start ${harmless.join(' | ')} End` }] });
    const preview = await api('POST', `/v1/sequences/${sequence.id}/steps/${sequence.steps[0]!.id}/preview`, { leadId: lead.id });
    expect(preview.status).toBe(200);
    expect(preview.body.text).toMatch(/Start \| \| \| a End/);
    for (const leak of ['function', '[object', 'native code', 'Object', 'email-sequences'])
      expect(preview.body.html + preview.body.text).not.toContain(leak);
  });
});

describe('a list cursor that is not one we gave', () => {
  const cursorOf = (text: string) => Buffer.from(text).toString('base64url');
  const id = '00000000-0000-4000-8000-000000000000';
  it.each([
    ['year −10000', cursorOf(`-010000-01-01T00:00:00.000Z|${id}`)],
    ['year 0', cursorOf(`0000-06-01T00:00:00.000Z|${id}`)],
    ['year 275000', cursorOf(`+275000-01-01T00:00:00.000Z|${id}`)],
    ['garbage', 'not-a-cursor'],
    ['a date with no id', cursorOf('2026-01-01T00:00:00.000Z')],
  ])('(%s) is a 400 naming cursor on every list', async (_what, cursor) => {
    const { apiKey, createSequence } = await asNewAccount(service);
    const sequence = await createSequence();
    for (const list of ['/v1/sequences', '/v1/leads', '/v1/outbox', '/v1/notifications', `/v1/sequences/${sequence.id}/enrolments`]) {
      expect(await raw(apiKey, 'GET', `${list}?cursor=${encodeURIComponent(cursor)}`, undefined), list).toEqual(
        structured(400, 'validation_error', 'cursor'),
      );
    }
  });
});
