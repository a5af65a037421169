/**
 * `biopay pay --terminal T1 --template FILE.iso --amount 12.34`: a payment at a terminal from one
 * finger, as a terminal that speaks gRPC would send it. The amount is in the currency of the
 * terminal's merchant account. A payment that ran is exit 0 whatever its outcome.
 */
import { randomUUID } from 'node:crypto';
import { Capture } from '../../proto/gen/biopay/v1/biometrics.js';
import { GetAccountRequest } from '../../proto/gen/biopay/v1/ledger.js';
import { GetTerminalRequest, PayRequest } from '../../proto/gen/biopay/v1/payment.js';
import { parseAmount } from '../../core/money.js';
import { clientCommand, requiredFlag, stringFlag, usage, UsageError } from './command.js';
import { paymentJson, paymentLines } from './format.js';
import { readTemplate } from './template.js';

export const payCommand = clientCommand({
  name: 'pay',
  help: `
Usage: biopay pay --terminal T1 --template FILE.iso --amount 12.34 [--payment-id ID] [--item CODE]

Pays AMOUNT (in the currency of the terminal's merchant account) at terminal T1 with the finger in
FILE.iso. The result says approved, refused or voided (authorized, then released because the
business step failed), and every reason. A retry with the same --payment-id returns the first
result and moves money once.
Exit code 0 whenever the payment ran, approved or not ("outcome" says which); 1 when it could not
run (unknown terminal, gateway unreachable, timeout).`,
  options: {
    terminal: { type: 'string' }, template: { type: 'string' }, amount: { type: 'string' },
    'payment-id': { type: 'string' }, item: { type: 'string' },
  },
  validate: (values) => {
    requiredFlag(values, 'terminal');
    requiredFlag(values, 'template');
    const amount = requiredFlag(values, 'amount');
    if (!/^\d+(\.\d+)?$/.test(amount)) throw new UsageError(`--amount must be a positive decimal such as 12.34, got "${amount}"`);
  },
  async run({ values, gateway, timeoutMs }) {
    const terminalId = requiredFlag(values, 'terminal');
    const isoTemplate = await readTemplate(requiredFlag(values, 'template'), 'template');
    const terminal = await gateway.getTerminal(GetTerminalRequest.fromPartial({ terminalId }), { timeoutMs });
    const merchant = await gateway.getAccount(GetAccountRequest.fromPartial({ accountId: terminal.merchantAccountId }), { timeoutMs });
    const amountMinor = usage(() => parseAmount(requiredFlag(values, 'amount'), merchant.currency));
    if (amountMinor <= 0n) throw new UsageError('--amount must be more than 0');
    const paymentId = stringFlag(values, 'payment-id') ?? `pay_${randomUUID()}`;
    const amount = { amountMinor, currency: merchant.currency };
    const result = await gateway.pay(PayRequest.fromPartial({
      paymentId, terminalId, amount, item: stringFlag(values, 'item') ?? '',
      capture: Capture.fromPartial({ captureId: paymentId, terminalId, isoTemplate }),
    }), { timeoutMs });
    const json = paymentJson(result, amount, terminalId);
    return { json: { payment: json }, lines: paymentLines(json) };
  },
});
