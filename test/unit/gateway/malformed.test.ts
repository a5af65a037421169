import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { GatewayServiceService } from '../../../proto/gen/biopay/v1/gateway.js';
import { DepositRequest, GetAccountRequest, OpenAccountRequest } from '../../../proto/gen/biopay/v1/ledger.js';
import { Capture } from '../../../proto/gen/biopay/v1/biometrics.js';
import { PayRequest } from '../../../proto/gen/biopay/v1/payment.js';
import { BiopayError, ErrorCode } from '../../../core/errors.js';
import { ERROR_CODE_METADATA_KEY } from '../../../core/grpc/index.js';
import { startHarness, template, type Harness } from './harness.js';

let h: Harness;
let raw: Client;

beforeAll(async () => {
  h = await startHarness();
  raw = new Client(h.address, credentials.createInsecure());
});
afterAll(async () => {
  raw.close();
  await h.stop();
});

/** Sends bytes as they are to a method path; resolves with the error or the response bytes. */
function sendBytes(path: string, bytes: Uint8Array): Promise<{ error: ServiceError | null; response?: Buffer }> {
  return new Promise((resolve) => {
    raw.makeUnaryRequest(path, (b: Buffer) => b, (b: Buffer) => b, Buffer.from(bytes), new Metadata(), { deadline: Date.now() + 5_000 },
      (error: ServiceError | null, response?: Buffer) => resolve({ error, response }));
  });
}

const MALFORMED: Record<string, Uint8Array> = {
  // Field 1, length-delimited, claiming ~4 GiB that never come.
  'length beyond the end': Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]),
  // Field 1 as a varint cut in the middle.
  'truncated varint': Uint8Array.from([0x08, 0xff]),
  // Wire type 7 does not exist.
  'invalid wire type': Uint8Array.from([0x0f, 0x01]),
};

describe('malformed protobuf on every gRPC method', () => {
  const methods = Object.values(GatewayServiceService);

  it.each(Object.entries(MALFORMED))('%s: INVALID_ARGUMENT / MALFORMED_MESSAGE, and the server keeps serving', async (_name, bytes) => {
    expect(methods).toHaveLength(15);
    for (const method of methods) {
      const { error } = await sendBytes(method.path, bytes);
      expect(error?.code, method.path).toBe(status.INVALID_ARGUMENT);
      expect(error?.metadata.get(ERROR_CODE_METADATA_KEY), method.path).toEqual([ErrorCode.MalformedMessage]);
    }
    const opened = await h.client.openAccount(OpenAccountRequest.fromPartial({ owner: 'After', currency: 'EUR' }));
    expect(opened.owner).toBe('After');
  });
});

describe('amounts beyond int64', () => {
  /** amount_minor as raw unsigned varint bits: what a client with a uint64 or a wrapped sum would send. */
  function depositBytes(accountId: string, amountBits: bigint): Uint8Array {
    return new BinaryWriter().uint32(10).string(accountId).uint32(16).uint64(amountBits).finish();
  }

  it('refuses an amount that wrapped past int64 (it decodes negative)', async () => {
    const account = await h.client.openAccount(OpenAccountRequest.fromPartial({ owner: 'Overflow', currency: 'EUR' }));
    for (const bits of [2n ** 64n - 1n, 2n ** 63n, 2n ** 63n + 5n]) {
      const { error } = await sendBytes(GatewayServiceService.deposit.path, depositBytes(account.accountId, bits));
      expect(error?.code).toBe(status.INVALID_ARGUMENT);
      expect(error?.metadata.get(ERROR_CODE_METADATA_KEY)).toEqual([ErrorCode.AmountOutOfRange]);
    }
    const after = await h.client.getAccount(GetAccountRequest.fromPartial({ accountId: account.accountId }));
    expect(after.balanceMinor).toBe(0n);
  });

  it('refuses a varint longer than 64 bits as malformed', async () => {
    const tooLong = Uint8Array.from([0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    const { error } = await sendBytes(GatewayServiceService.deposit.path, Uint8Array.from([0x0a, 0x01, 0x61, ...tooLong]));
    expect(error?.code).toBe(status.INVALID_ARGUMENT);
    expect(error?.metadata.get(ERROR_CODE_METADATA_KEY)).toEqual([ErrorCode.MalformedMessage]);
  });

  it('refuses a negative payment amount', async () => {
    const error = await h.client.pay(PayRequest.fromPartial({
      paymentId: 'neg', terminalId: 'T1', amount: { amountMinor: -1n, currency: 'EUR' },
      capture: Capture.fromPartial({ isoTemplate: template('101_1') }),
    })).then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ code: ErrorCode.AmountOutOfRange });
  });

  it('the typed client refuses to encode an amount beyond int64', async () => {
    const error = await h.client.deposit(DepositRequest.fromPartial({ accountId: 'acc_1', amountMinor: 2n ** 63n }))
      .then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(BiopayError);
    expect((error as BiopayError).code).toBe(ErrorCode.BadRequest);
  });
});
