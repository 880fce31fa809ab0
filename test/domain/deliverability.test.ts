import { describe, expect, it } from 'vitest';
import {
  DEFAULT_DELIVERABILITY as SETTINGS,
  activeTrip,
  protectionCauseOf,
  protectionReason,
  protectionVerdict,
  trips,
  type ProtectionTrip,
} from '../../domain/deliverability.js';

const record = (sent: number, hardBounces = 0, complaints = 0) => ({ sent, hardBounces, complaints });

describe('the breaker’s verdict', () => {
  it('says nothing under the minimum sent, however bad the rate', () => {
    expect(protectionVerdict(record(19, 19, 19), 'sequence', SETTINGS)).toBeNull();
    expect(protectionVerdict(record(0), 'sequence', SETTINGS)).toBeNull();
  });

  it('trips on hard bounces at 3 %, not below', () => {
    expect(protectionVerdict(record(100, 2), 'sequence', SETTINGS)).toBeNull();
    expect(protectionVerdict(record(100, 3), 'sequence', SETTINGS)).toMatchObject({ cause: 'bounce_protection', rate: 0.03, count: 3 });
  });

  it('trips on complaints at 0.1 %, before bounces', () => {
    expect(protectionVerdict(record(2000, 1), 'account', SETTINGS)).toBeNull();
    expect(protectionVerdict(record(2000, 0, 2), 'account', SETTINGS)).toMatchObject({ cause: 'complaint_protection', scope: 'account' });
    expect(protectionVerdict(record(100, 10, 2), 'sequence', SETTINGS)?.cause).toBe('complaint_protection');
  });

  it('never trips on one recipient: one bounce or one complaint is not a rate', () => {
    expect(protectionVerdict(record(20, 1), 'sequence', SETTINGS)).toBeNull();
    expect(protectionVerdict(record(20, 0, 1), 'sequence', SETTINGS)).toBeNull();
    expect(protectionVerdict(record(20, 2), 'sequence', SETTINGS)).toMatchObject({ cause: 'bounce_protection', rate: 0.1 });
  });
});

describe('a trip after a manual resume', () => {
  const at = new Date('2026-12-10T12:00:00Z');
  const last = (resumedAt: string | null): ProtectionTrip => ({
    ...protectionVerdict(record(100, 4), 'sequence', SETTINGS)!,
    trippedAt: '2026-12-01T00:00:00Z',
    resumedAt,
  });
  const worse = (bounces: number) => protectionVerdict(record(100, bounces), 'sequence', SETTINGS)!;

  it('happens at once for a sequence that never tripped, never again for one still paused by it', () => {
    expect(trips(worse(4), null, at, SETTINGS)).toBe(true);
    expect(trips(worse(9), last(null), at, SETTINGS)).toBe(false);
  });

  it('waits for the grace period unless the rate doubles', () => {
    const resumed = last('2026-12-05T00:00:00Z');
    expect(trips(worse(7), resumed, at, SETTINGS)).toBe(false);
    expect(trips(worse(8), resumed, at, SETTINGS)).toBe(true);
    expect(trips(worse(4), resumed, new Date('2026-12-12T00:00:01Z'), SETTINGS)).toBe(true);
  });

  it('happens for the other cause at once', () => {
    const complaints = protectionVerdict(record(100, 0, 2), 'sequence', SETTINGS)!;
    expect(trips(complaints, last('2026-12-09T00:00:00Z'), at, SETTINGS)).toBe(true);
  });

  it('is active only until a person resumes', () => {
    expect(activeTrip(last(null))).not.toBeNull();
    expect(activeTrip(last('2026-12-05T00:00:00Z'))).toBeNull();
  });
});

describe('the reason a breaker pauses with', () => {
  it('gives the figures, and is read back as its cause', () => {
    const reason = protectionReason(protectionVerdict(record(300, 10), 'sequence', SETTINGS)!);
    expect(reason).toBe('bounce protection: 10 of 300 of its emails hard-bounced (3.33 %) in the last 7 days, over the 3 % threshold');
    expect(protectionCauseOf(reason)).toBe('bounce_protection');
    expect(protectionCauseOf('the sequence is paused')).toBeNull();
  });
});
