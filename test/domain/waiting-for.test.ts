import { describe, expect, it } from 'vitest';
import { REASONS } from '../../domain/enrolment-status.js';
import { leadEventReason } from '../../domain/lead-events.js';
import { currentWait, pausedBy, pausedWait } from '../../domain/waiting-for.js';

const NOW = Date.parse('2026-12-03T12:00:00Z');
const later = '2026-12-04T09:00:00.000Z';
const earlier = '2026-12-03T11:00:00.000Z';

describe('who paused an enrolment', () => {
  it('is read from the reason the pause was recorded with', () => {
    expect(pausedBy(null)).toBe('user');
    expect(pausedBy(REASONS.sequencePaused)).toBe('sequence');
    expect(pausedBy(REASONS.replied)).toBe('reply');
    expect(pausedBy('a colleague replied: ada@acme.test')).toBe('colleague_reply');
    expect(pausedBy('anything', 'an-inbound-id')).toBe('colleague_reply');
    expect(pausedBy(REASONS.senderRetired)).toBe('sender_retired');
    expect(pausedBy('the sender Ada was retired')).toBe('sender_retired');
    expect(pausedBy(leadEventReason('meeting_booked'))).toBe('lead_event');
  });

  it('is an out-of-office return when the pause has a date', () => {
    expect(pausedWait({ reason: REASONS.outOfOffice, pausedUntil: new Date(later) })).toEqual({ cause: 'out_of_office', until: later });
    expect(pausedWait({ reason: null, pausedUntil: null })).toEqual({ cause: 'paused', by: 'user', reason: null });
  });
});

describe('what an enrolment answers it waits for', () => {
  const active = (waitingFor: Parameters<typeof currentWait>[0]['waitingFor']) => ({
    status: 'active' as const,
    waitingFor,
    pausedUntil: null,
  });

  it('is the recorded wait while its time is ahead', () => {
    expect(currentWait(active({ cause: 'send_window', until: later }), NOW)).toEqual({ cause: 'send_window', until: later });
  });

  it('is nothing once the wait is over (the email is on its way), or for an ended enrolment', () => {
    expect(currentWait(active({ cause: 'delay', until: earlier }), NOW)).toBeNull();
    expect(currentWait({ status: 'completed', waitingFor: { cause: 'delay', until: later }, pausedUntil: null }, NOW)).toBeNull();
  });

  it('is the pause for a paused enrolment, even one paused before waits were recorded', () => {
    const recorded = { cause: 'paused' as const, by: 'sequence' as const, reason: REASONS.sequencePaused };
    expect(currentWait({ status: 'paused', waitingFor: recorded, pausedUntil: null }, NOW)).toEqual(recorded);
    expect(currentWait({ status: 'paused', waitingFor: null, pausedUntil: null }, NOW)).toEqual({
      cause: 'paused',
      by: 'user',
      reason: null,
    });
    expect(currentWait({ status: 'paused', waitingFor: { cause: 'delay', until: later }, pausedUntil: new Date(later) }, NOW)).toEqual({
      cause: 'out_of_office',
      until: later,
    });
  });
});
