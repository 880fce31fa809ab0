import { createHash, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A Resend-compatible HTTP sink for tests: the real `resend` SDK talks to it. It records every
 * email it accepts, enforces idempotency keys the way Resend does (same key and payload: the
 * same id and no second email; same key, other payload: 409), answers faults on demand, and
 * serves the domain and received-email endpoints the service reads.
 */
export interface SinkEmail {
  id: string;
  idempotencyKey: string | undefined;
  payload: {
    from: string;
    to: string | string[];
    subject: string;
    html?: string;
    text?: string;
    reply_to?: string | string[];
    headers?: Record<string, string>;
    tags?: { name: string; value: string }[];
  };
  receivedAt: number;
  /**
   * The Message-ID it went out with. Like Resend, which sends through Amazon SES (SES overrides a
   * Message-ID it is given), the sink gives every email its own, and reports it on GET /emails/:id.
   */
  messageId: string;
}

type Fault = { status: number; name: string; message?: string; headers?: Record<string, string> };

export interface ResendSink {
  url: string;
  apiKey: string;
  emails: SinkEmail[];
  /** Every POST /emails the sink answered, including refused ones and idempotent replays. */
  requests: { key: string | undefined; status: number; at: number }[];
  failNext(count: number, fault: Fault): void;
  /** A share of requests fail at random (for chaos tests); 0 turns it off. */
  randomFaults(options: { rate500?: number; rate429?: number }): void;
  /** The next accepted email is recorded but its answer is held until `release()`. */
  holdNext(): Promise<SinkEmail>;
  release(): void;
  addReceived(email: Record<string, unknown>): string;
  domainStatus: Map<string, string>;
  close(): Promise<void>;
}

const hash = (value: unknown) => createHash('sha256').update(JSON.stringify(value)).digest('hex');

export async function startResendSink(): Promise<ResendSink> {
  const apiKey = `re_test_${randomUUID()}`;
  const emails: SinkEmail[] = [];
  const requests: ResendSink['requests'] = [];
  const byKey = new Map<string, { hash: string; id: string; inFlight: boolean }>();
  const faults: Fault[] = [];
  let random = { rate500: 0, rate429: 0 };
  let hold: { resolve: (e: SinkEmail) => void } | undefined;
  const held: (() => void)[] = [];
  const received = new Map<string, Record<string, unknown>>();
  const domains = new Map<string, { id: string; name: string; created_at: string }>();
  const domainStatus = new Map<string, string>();

  const send = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
  const error = (res: http.ServerResponse, fault: Fault) =>
    send(res, fault.status, { statusCode: fault.status, name: fault.name, message: fault.message ?? fault.name }, fault.headers);

  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString();
    const body = raw ? JSON.parse(raw) : undefined;
    if (req.headers.authorization !== `Bearer ${apiKey}`) {
      return error(res, { status: 401, name: 'missing_api_key', message: 'Missing API key' });
    }
    const url = new URL(req.url!, 'http://sink');
    const key = req.headers['idempotency-key'] as string | undefined;

    if (req.method === 'POST' && url.pathname === '/emails') {
      const record = (status: number) => requests.push({ key, status, at: Date.now() });
      const roll = Math.random();
      const fault =
        faults.shift() ??
        (roll < random.rate500
          ? { status: 500, name: 'internal_server_error' }
          : roll < random.rate500 + random.rate429
            ? {
                status: 429,
                name: 'rate_limit_exceeded',
                headers: { 'retry-after': '1', 'ratelimit-limit': '2', 'ratelimit-remaining': '0', 'ratelimit-reset': '1' },
              }
            : undefined);
      if (fault) {
        record(fault.status);
        return error(res, fault);
      }
      if (!body?.from || !body?.to || !body?.subject) {
        record(422);
        return error(res, { status: 422, name: 'validation_error', message: 'Missing `from`, `to` or `subject`' });
      }
      if (String(body.to).includes('invalid')) {
        record(422);
        return error(res, { status: 422, name: 'validation_error', message: 'Invalid `to` field' });
      }
      const payloadHash = hash(body);
      if (key) {
        const previous = byKey.get(key);
        if (previous?.inFlight) {
          record(409);
          return error(res, { status: 409, name: 'concurrent_idempotent_requests', message: 'Same idempotency key in flight' });
        }
        if (previous && previous.hash !== payloadHash) {
          record(409);
          return error(res, { status: 409, name: 'invalid_idempotent_request', message: 'Same idempotency key, different payload' });
        }
        if (previous) {
          record(200);
          return send(res, 200, { id: previous.id });
        }
      }
      const email: SinkEmail = {
        id: randomUUID(),
        idempotencyKey: key,
        payload: body,
        receivedAt: Date.now(),
        messageId: `<${randomUUID()}@us-east-1.amazonses.com>`,
      };
      emails.push(email);
      if (key) byKey.set(key, { hash: payloadHash, id: email.id, inFlight: false });
      record(200);
      if (hold) {
        const h = hold;
        hold = undefined;
        h.resolve(email);
        // Recorded, but the answer never comes until release(): the caller may die meanwhile.
        held.push(() => send(res, 200, { id: email.id }));
        return;
      }
      return send(res, 200, { id: email.id });
    }
    const emailMatch = /^\/emails\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'GET' && emailMatch) {
      const found = emails.find((e) => e.id === emailMatch[1]);
      return found
        ? send(res, 200, { object: 'email', id: found.id, message_id: found.messageId, ...found.payload })
        : error(res, { status: 404, name: 'not_found' });
    }
    const receivedMatch = /^\/emails\/receiving\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'GET' && receivedMatch) {
      const found = received.get(receivedMatch[1]!);
      return found ? send(res, 200, found) : error(res, { status: 404, name: 'not_found' });
    }
    if (req.method === 'POST' && url.pathname === '/domains') {
      const domain = { id: randomUUID(), name: body.name as string, created_at: new Date().toISOString() };
      domains.set(domain.id, domain);
      domainStatus.set(domain.id, 'not_started');
      return send(res, 200, { ...domain, status: 'not_started', region: 'us-east-1', records: dnsRecords(domain.name) });
    }
    const domainMatch = /^\/domains\/([^/]+)(\/verify)?$/.exec(url.pathname);
    if (domainMatch && domains.has(domainMatch[1]!)) {
      const domain = domains.get(domainMatch[1]!)!;
      if (req.method === 'POST' && domainMatch[2]) {
        if (domainStatus.get(domain.id) === 'not_started') domainStatus.set(domain.id, 'pending');
        return send(res, 200, { object: 'domain', id: domain.id });
      }
      if (req.method === 'GET') {
        return send(res, 200, {
          object: 'domain',
          ...domain,
          status: domainStatus.get(domain.id),
          region: 'us-east-1',
          records: dnsRecords(domain.name),
        });
      }
    }
    return error(res, { status: 404, name: 'not_found', message: `${req.method} ${url.pathname}` });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    apiKey,
    emails,
    requests,
    domainStatus,
    failNext(count, fault) {
      for (let i = 0; i < count; i++) faults.push(fault);
    },
    randomFaults(options) {
      random = { rate500: options.rate500 ?? 0, rate429: options.rate429 ?? 0 };
    },
    holdNext() {
      return new Promise((resolve) => {
        hold = { resolve };
      });
    },
    release() {
      for (const answer of held.splice(0)) answer();
    },
    addReceived(email) {
      const id = randomUUID();
      received.set(id, { object: 'email', id, ...email });
      return id;
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function dnsRecords(name: string) {
  return [
    {
      record: 'SPF',
      name: `send.${name}`,
      type: 'MX',
      ttl: 'Auto',
      status: 'not_started',
      value: 'feedback-smtp.us-east-1.amazonses.com',
      priority: 10,
    },
    { record: 'SPF', name: `send.${name}`, type: 'TXT', ttl: 'Auto', status: 'not_started', value: '"v=spf1 include:amazonses.com ~all"' },
    {
      record: 'DKIM',
      name: `resend._domainkey.${name}`,
      type: 'TXT',
      ttl: 'Auto',
      status: 'not_started',
      value: 'p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDtest',
    },
  ];
}

/** RFC 2047 for a header value that is not plain ASCII. */
const headerValue = (value: string) => (/^[\x20-\x7e]*$/.test(value) ? value : `=?UTF-8?B?${Buffer.from(value).toString('base64')}?=`);

/**
 * The email as it reaches the lead's mailbox, as raw MIME (what mailparser reads): the headers the
 * service gave, with the sink's Message-ID in place of the one it asked for, as SES does.
 */
export function mimeOf(email: SinkEmail): string {
  const { payload } = email;
  const own = Object.entries(payload.headers ?? {}).filter(([name]) => name.toLowerCase() !== 'message-id');
  const to = Array.isArray(payload.to) ? payload.to.join(', ') : payload.to;
  const replyTo = Array.isArray(payload.reply_to) ? payload.reply_to.join(', ') : payload.reply_to;
  const boundary = `b-${email.id}`;
  const part = (type: string, content: string) => [
    `--${boundary}`,
    `Content-Type: ${type}; charset=utf-8`,
    'Content-Transfer-Encoding: base64',
    '',
    Buffer.from(content).toString('base64'),
  ];
  return [
    `From: ${headerValue(payload.from)}`,
    `To: ${to}`,
    ...(replyTo ? [`Reply-To: ${replyTo}`] : []),
    `Subject: ${headerValue(payload.subject)}`,
    `Date: ${new Date(email.receivedAt).toUTCString()}`,
    `Message-ID: ${email.messageId}`,
    ...own.map(([name, value]) => `${name}: ${headerValue(value)}`),
    'MIME-Version: 1.0',
    `Content-Type: multipart/alternative; boundary="${boundary}"`,
    '',
    ...part('text/plain', payload.text ?? ''),
    ...part('text/html', payload.html ?? ''),
    `--${boundary}--`,
    '',
  ].join('\r\n');
}
