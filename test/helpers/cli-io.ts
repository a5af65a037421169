/** Runs a CLI command in this process with its output captured (exit code, stdout, stderr). */
import type { CommandIo } from '../../cli/io.js';

export interface CommandRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export async function runCaptured(command: (argv: string[], io: CommandIo) => Promise<number>, args: string[]): Promise<CommandRun> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await command(args, { stdout: (text) => stdout.push(text), stderr: (text) => stderr.push(text) });
  return { code, stdout: stdout.join('\n'), stderr: stderr.join('\n') };
}
