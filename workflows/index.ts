export * from './enrolment.js';
export * from './sequence-broadcast.js';
