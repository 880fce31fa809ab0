/** The workflow contract: one workflow per enrolment, `enrolment-<enrolmentId>`. */
export const enrolmentWorkflowId = (enrolmentId: string) => `enrolment-${enrolmentId}`;
