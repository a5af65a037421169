import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientCommands } from '../../../cli/client/index.js';
import { captureIo, startHarness, templatePath, type Harness } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.stop();
});

/** Runs `biopay <words...>` against the test gateway with --json; returns exit code and the object. */
async function run(line: string[], { json = true } = {}): Promise<{ code: number; out: any; io: ReturnType<typeof captureIo> }> {
  const io = captureIo();
  const words = line[0] === 'account' || line[0] === 'policy' || line[0] === 'terminal' ? 2 : 1;
  const command = clientCommands[line.slice(0, words).join(' ')];
  if (!command) throw new Error(`no command ${line.slice(0, words).join(' ')}`);
  const argv = [...line.slice(words), '--gateway', h.address, ...(json ? ['--json'] : [])];
  const code = await command.run(argv, io);
  return { code, out: json ? io.json() : undefined, io };
}

let alice: string;
let canteen: string;

describe('client commands against a running gateway', () => {
  it('opens accounts, deposits and shows the balance', async () => {
    const opened = await run(['account', 'open', '--owner', 'Alice', '--currency', 'EUR', '--tz', 'Europe/Berlin']);
    expect(opened.code).toBe(0);
    expect(opened.out).toMatchObject({ ok: true, account: { owner: 'Alice', currency: 'EUR', kind: 'customer', balance: '0.00', timeZone: 'Europe/Berlin' } });
    alice = opened.out.account.accountId;
    canteen = (await run(['account', 'open', '--owner', 'Canteen', '--currency', 'EUR', '--kind', 'merchant'])).out.account.accountId;
    const deposit = await run(['account', 'deposit', alice, '100.00']);
    expect(deposit.out).toMatchObject({ deposited: '100.00', account: { balance: '100.00', available: '100.00', held: '0.00' } });
    expect((await run(['account', 'balance', alice])).out.account.balance).toBe('100.00');
  });

  it('registers a terminal and enrolls an owner and a restricted child', async () => {
    const terminal = await run(['terminal', 'register', 'T1', '--merchant', canteen, '--lat', '52.52', '--lon', '13.405', '--action', 'open-gate']);
    expect(terminal.out.terminal).toMatchObject({ terminalId: 'T1', merchantAccountId: canteen, location: { lat: 52.52, lon: 13.405 } });
    const owner = await run(['enroll', alice, '--template', templatePath('101_1')]);
    expect(owner.out.credential).toMatchObject({ accountId: alice, restricted: false, policy: { restricted: false } });
    const child = await run(['enroll', alice, '--template', templatePath('102_1'), '--restricted', '--quota', '30.00/day',
      '--count', '5/day', '--max', '5.00', '--terminal', 'T1', '--window', 'mon-fri@07:00-15:00', '--tz', 'Europe/Berlin']);
    expect(child.code).toBe(0);
    expect(child.out.credential).toMatchObject({
      restricted: true,
      policy: { restricted: true, max: '5.00', quota: ['30.00/day'], count: ['5/day'], terminal: ['T1'], tz: 'Europe/Berlin' },
    });
  });

  it('pays: approved, refused for a restriction, refused for an unknown finger (all exit 0)', async () => {
    const approved = await run(['pay', '--terminal', 'T1', '--template', templatePath('101_1'), '--amount', '12.34', '--payment-id', 'cli-p1']);
    expect(approved.code).toBe(0);
    expect(approved.out.payment).toMatchObject({
      paymentId: 'cli-p1', outcome: 'approved', amount: '12.34', currency: 'EUR', accountId: alice, refusals: [],
    });
    const refused = await run(['pay', '--terminal', 'T1', '--template', templatePath('102_1'), '--amount', '6.00']);
    expect(refused.code).toBe(0);
    expect(refused.out.payment).toMatchObject({ outcome: 'refused', amount: '6.00' });
    expect(refused.out.payment.refusals).toEqual([{ code: 'MAX_PER_PAYMENT', message: 'at most 5.00 EUR per payment' }]);
    const unknown = await run(['pay', '--terminal', 'T1', '--template', templatePath('109_1'), '--amount', '1.00']);
    expect(unknown.out.payment).toMatchObject({ outcome: 'refused', refusals: [{ code: 'NO_MATCH' }] });
    expect((await run(['account', 'balance', alice])).out.account.balance).toBe('87.66');
  });

  it('prints a person-readable payment result without --json', async () => {
    const { code, io } = await run(['pay', '--terminal', 'T1', '--template', templatePath('102_1'), '--amount', '9.00'], { json: false });
    expect(code).toBe(0);
    expect(io.out.join('\n')).toContain('refused: 9.00 EUR not charged');
    expect(io.out.join('\n')).toContain('at most 5.00 EUR per payment');
  });

  it('shows and changes a policy, keeping the restrictions not named', async () => {
    const shown = await run(['policy', 'show', '--template', templatePath('102_1')]);
    expect(shown.out.credential.policy.max).toBe('5.00');
    const changed = await run(['policy', 'set', '--template', templatePath('102_1'), '--max', '8.00', '--authorize-with', templatePath('101_1')]);
    expect(changed.code).toBe(0);
    expect(changed.out.credential.policy).toMatchObject({ max: '8.00', quota: ['30.00/day'], count: ['5/day'], terminal: ['T1'] });
    const byId = await run(['policy', 'show', '--credential', changed.out.credential.credentialId]);
    expect(byId.out.credential.policy.max).toBe('8.00');
    const byChild = await run(['policy', 'set', '--template', templatePath('102_1'), '--unrestricted', '--authorize-with', templatePath('102_1')]);
    expect(byChild.code).toBe(1);
    expect(byChild.out).toMatchObject({ ok: false, error: { code: 'NOT_AUTHORIZED' } });
  });

  it('lists the statement with running balances and pages', async () => {
    const first = await run(['account', 'statement', alice, '--limit', '1']);
    expect(first.out.statement.entries).toEqual([expect.objectContaining({ amount: '100.00', balanceAfter: '100.00', kind: 'deposit' })]);
    expect(first.out.statement.hasMore).toBe(true);
    const next = await run(['account', 'statement', alice, '--after', first.out.statement.nextAfter]);
    expect(next.out.statement.entries[0]).toMatchObject({ amount: '-12.34', balanceAfter: '87.66' });
  });
});

describe('client command failures and exit codes', () => {
  it('exit 2 for usage errors, with one JSON error object', async () => {
    for (const line of [
      ['account', 'open', '--currency', 'EUR'],
      ['account', 'open', '--owner', 'X', '--currency', 'EURO'],
      ['account', 'deposit', 'acc_1', '12,00'],
      ['account', 'deposit', 'acc_1'],
      ['pay', '--terminal', 'T1', '--template', templatePath('101_1')],
      ['pay', '--terminal', 'T1', '--template', '/nonexistent.iso', '--amount', '1.00'],
      ['enroll', 'acc_1', '--template', templatePath('101_1'), '--quota', '5.00/day'],
      ['enroll', 'acc_1', '--template', templatePath('101_1'), '--restricted', '--window', 'someday@07:00-15:00'],
      ['policy', 'show'],
      ['policy', 'set', '--credential', 'c', '--max', '1.00'],
      ['policy', 'set', '--credential', 'c', '--authorize-with', templatePath('101_1')],
      ['terminal', 'register', 'T9', '--merchant', 'm', '--lat', '91', '--lon', '0'],
      ['account', 'balance', 'a', '--no-such-flag'],
    ]) {
      const result = await run(line);
      expect(result.code, line.join(' ')).toBe(2);
      expect(result.out, line.join(' ')).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    }
  });

  it('exit 2 for an amount with more decimals than the currency has', async () => {
    const result = await run(['account', 'deposit', alice, '1.234']);
    expect(result.code).toBe(2);
  });

  it('exit 1 for an unknown account, naming the code', async () => {
    const result = await run(['account', 'balance', 'acc_missing'], { json: false });
    expect(result.code).toBe(1);
    expect(result.io.err.join('')).toContain('UNKNOWN_ACCOUNT');
  });

  it('exit 1 when the gateway cannot be reached', async () => {
    const io = captureIo();
    const code = await clientCommands['account balance']!.run(['acc_1', '--gateway', '127.0.0.1:1', '--json', '--timeout-ms', '2000'], io);
    expect(code).toBe(1);
    expect(io.json()).toMatchObject({ ok: false, error: { code: 'UNAVAILABLE' } });
  });

  it('--help on every command documents its flags and exit codes', async () => {
    for (const [name, command] of Object.entries(clientCommands)) {
      const io = captureIo();
      expect(await command.run(['--help'], io), name).toBe(0);
      expect(io.out.join(''), name).toContain(`biopay ${name}`);
      expect(io.out.join(''), name).toContain('Exit codes');
    }
  });
});
