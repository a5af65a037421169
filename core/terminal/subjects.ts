/** Subjects of the sensor side of terminals. */
import { subjectToken } from '../transport/subject-token.js';

/** Sensors publish here; terminal nodes listen on all terminals with a queue group. */
export const SENSOR_SUBJECT_ALL = 'biopay.sensor.>';

export function sensorSubject(terminalId: string): string {
  return `biopay.sensor.${subjectToken(terminalId)}`;
}

/** The terminal's display side listens here for the outcome of each touch. */
export function paymentResultSubject(terminalId: string): string {
  return `biopay.payment.result.${subjectToken(terminalId)}`;
}
