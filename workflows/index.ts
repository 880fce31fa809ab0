export * from './enrolment.js';
export * from './sequence-broadcast.js';
export * from './one-off-email.js';
export * from './notifications.js';
