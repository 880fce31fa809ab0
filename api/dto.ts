import type { enrolments, leads } from '../db/schema.js';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function toEnrolmentDto(e: typeof enrolments.$inferSelect) {
  return {
    id: e.id,
    sequenceId: e.sequenceId,
    leadId: e.leadId,
    status: e.status,
    lastStepId: e.lastStepId,
    lastSentAt: iso(e.lastSentAt),
    nextStepId: e.nextStepId,
    nextDueAt: iso(e.nextDueAt),
    repliedAt: iso(e.repliedAt),
    endedReason: e.endedReason,
    enrolledAt: e.enrolledAt.toISOString(),
    endedAt: iso(e.endedAt),
  };
}

export function toLeadDto(l: typeof leads.$inferSelect) {
  return {
    id: l.id,
    email: l.email,
    firstName: l.firstName,
    lastName: l.lastName,
    company: l.company,
    title: l.title,
    phone: l.phone,
    timezone: l.timezone,
    customFields: l.customFields,
    unsubscribedAt: iso(l.unsubscribedAt),
    bouncedAt: iso(l.bouncedAt),
    createdAt: l.createdAt.toISOString(),
    updatedAt: l.updatedAt.toISOString(),
  };
}
