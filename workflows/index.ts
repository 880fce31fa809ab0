export * from './enrolment.js';
