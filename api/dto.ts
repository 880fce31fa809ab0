import { enrolments, type leads } from '../db/schema.js';
import { currentWait } from '../domain/waiting-for.js';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** The columns an enrolment's DTO shows: lists select only these (row mapping is their main cost). */
export const enrolmentDtoColumns = {
  id: enrolments.id,
  sequenceId: enrolments.sequenceId,
  leadId: enrolments.leadId,
  status: enrolments.status,
  lastStepId: enrolments.lastStepId,
  lastSentAt: enrolments.lastSentAt,
  nextStepId: enrolments.nextStepId,
  nextDueAt: enrolments.nextDueAt,
  repliedAt: enrolments.repliedAt,
  pausedUntil: enrolments.pausedUntil,
  endedReason: enrolments.endedReason,
  enrolledAt: enrolments.enrolledAt,
  endedAt: enrolments.endedAt,
  senderId: enrolments.senderId,
  waitingFor: enrolments.waitingFor,
};

export function toEnrolmentDto(e: Pick<typeof enrolments.$inferSelect, keyof typeof enrolmentDtoColumns>) {
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
    pausedUntil: iso(e.pausedUntil),
    endedReason: e.endedReason,
    enrolledAt: e.enrolledAt.toISOString(),
    endedAt: iso(e.endedAt),
    senderId: e.senderId,
    // A wait that is over (its day has come, the email is on its way) is no longer a reason.
    waitingFor: currentWait(e, Date.now()),
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
    country: l.country,
    customFields: l.customFields,
    companyId: l.companyId,
    unsubscribedAt: iso(l.unsubscribedAt),
    bouncedAt: iso(l.bouncedAt),
    doNotContactAt: iso(l.doNotContactAt),
    createdAt: l.createdAt.toISOString(),
    updatedAt: l.updatedAt.toISOString(),
  };
}
