/** The client commands (they talk to a running gateway), keyed by the words typed after `biopay`. */
import type { CommandIo } from '../io.js';
import { accountBalanceCommand, accountDepositCommand, accountOpenCommand, accountStatementCommand } from './account.js';
import { enrollCommand } from './enroll.js';
import { payCommand } from './pay.js';
import { policySetCommand, policyShowCommand } from './policy.js';
import { terminalRegisterCommand } from './terminal.js';

export interface ClientCommandEntry {
  readonly summary: string;
  run(argv: string[], io: CommandIo): Promise<number>;
}

export const clientCommands: Record<string, ClientCommandEntry> = {
  'account open': { summary: 'open an account (--owner NAME --currency EUR)', run: accountOpenCommand },
  'account deposit': { summary: 'deposit into an account (ACCOUNT 100.00)', run: accountDepositCommand },
  'account balance': { summary: "print an account's balance (ACCOUNT)", run: accountBalanceCommand },
  'account statement': { summary: "list an account's entries with running balance (ACCOUNT)", run: accountStatementCommand },
  enroll: { summary: 'enroll a finger as a credential of an account, with an optional spending policy', run: enrollCommand },
  'policy show': { summary: "show a credential's spending policy (--template FILE.iso | --credential ID)", run: policyShowCommand },
  'policy set': { summary: "change a credential's spending policy (--authorize-with OWNER.iso)", run: policySetCommand },
  pay: { summary: 'pay at a terminal with a finger (--terminal T1 --template FILE.iso --amount 12.34)', run: payCommand },
  'terminal register': { summary: 'register a terminal and its merchant account (T1 --merchant ACCOUNT)', run: terminalRegisterCommand },
};

export { accountBalanceCommand, accountDepositCommand, accountOpenCommand, accountStatementCommand } from './account.js';
export { enrollCommand } from './enroll.js';
export { payCommand } from './pay.js';
export { policySetCommand, policyShowCommand } from './policy.js';
export { terminalRegisterCommand } from './terminal.js';
export { DEFAULT_GATEWAY, GATEWAY_ENV } from './command.js';
