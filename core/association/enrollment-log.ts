/**
 * Enrollment changes travel as a JetStream stream that every association node replays at start and
 * follows afterwards, so all galleries converge. One subject per credential keeping only its latest
 * record: a deletion replaces the sealed template, which is then gone from the stream too.
 */
import { DeliverPolicy, jetstream, jetstreamManager, type ConsumerMessages } from '@nats-io/jetstream';
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import { EnrollmentRecord } from '../../proto/gen/biopay/v1/biometrics.js';
import { subjectToken } from '../transport/subject-token.js';
import { BiopayError, ErrorCode } from '../errors.js';
import { addIgnoringRace, setUpJetStream, type JetStreamSetupRetry } from '../transport/jetstream-setup.js';
import { streamReplicas } from '../transport/replicas.js';
import { encodeMessage } from '../protobuf.js';

export const ENROLLMENT_STREAM = 'BIOPAY_ENROLLMENTS';
const ENROLLMENT_DUPLICATE_WINDOW_MS = 120_000;
/** Credentials kept at most (one message each). */
const ENROLLMENTS_MAX = 10_000_000;
/** Records converted per bulk call while replaying. */
const REPLAY_BATCH_MAX = 1_000;

export function enrollmentSubject(credentialId: string): string {
  return `biopay.enrollment.${subjectToken(credentialId)}`;
}

export class EnrollmentLog {
  private messages: ConsumerMessages | undefined;
  private following: Promise<void> | undefined;

  private constructor(private readonly nc: NatsConnection) {}

  static async open(nc: NatsConnection, onRetry?: JetStreamSetupRetry): Promise<EnrollmentLog> {
    await setUpJetStream(`enrollment stream ${ENROLLMENT_STREAM}`, () => ensureEnrollmentStream(nc), { onRetry });
    return new EnrollmentLog(nc);
  }

  async append(record: EnrollmentRecord, messageId: string): Promise<void> {
    try {
      await jetstream(this.nc).publish(enrollmentSubject(record.credentialId), encodeMessage(EnrollmentRecord, record), {
        msgID: messageId,
      });
    } catch (error) {
      throw new BiopayError(ErrorCode.Unavailable, 'enrollment could not be recorded', { cause: error });
    }
  }

  /**
   * Replays every stored record, resolves once the replay reached the records that existed at the
   * call, and keeps delivering new ones until close(). Records come in batches (in stream order)
   * so a node rebuilding a large gallery converts templates in bulk.
   */
  async follow(apply: (records: EnrollmentRecord[]) => Promise<void>, onMalformed: (error: unknown) => void): Promise<void> {
    const jsm = await jetstreamManager(this.nc);
    const lastSequence = (await jsm.streams.info(ENROLLMENT_STREAM)).state.last_seq;
    const consumer = await jetstream(this.nc).consumers.get(ENROLLMENT_STREAM, { deliver_policy: DeliverPolicy.All });
    const messages = await consumer.consume({ max_messages: REPLAY_BATCH_MAX });
    this.messages = messages;
    let caughtUp!: () => void;
    const replayed = new Promise<void>((resolve) => (caughtUp = resolve));
    if (lastSequence === 0) caughtUp();
    this.following = (async () => {
      let batch: EnrollmentRecord[] = [];
      for await (const message of messages) {
        try {
          batch.push(EnrollmentRecord.decode(message.data));
        } catch (error) {
          onMalformed(error);
        }
        // Flush when the batch is full or nothing more is waiting (live updates apply at once).
        if (batch.length >= REPLAY_BATCH_MAX || message.info.pending === 0) {
          await apply(batch).catch(onMalformed);
          batch = [];
        }
        if (message.seq >= lastSequence) caughtUp();
      }
      if (batch.length > 0) await apply(batch).catch(onMalformed);
      caughtUp();
    })();
    await replayed;
  }

  async close(): Promise<void> {
    await this.messages?.close();
    await this.following;
  }
}

/** Creates the enrollment stream unless it exists (safe to repeat, and for nodes starting together). */
async function ensureEnrollmentStream(nc: NatsConnection): Promise<void> {
  const jsm = await jetstreamManager(nc);
  try {
    await jsm.streams.info(ENROLLMENT_STREAM);
  } catch {
    await addIgnoringRace(() =>
      jsm.streams.add({
        name: ENROLLMENT_STREAM,
        subjects: ['biopay.enrollment.>'],
        max_msgs_per_subject: 1,
        max_msgs: ENROLLMENTS_MAX,
        duplicate_window: nanos(ENROLLMENT_DUPLICATE_WINDOW_MS),
        num_replicas: streamReplicas(),
      }),
    );
  }
}
