#!/usr/bin/env node
import { ExitCode } from './io.js';
import { main } from './main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`biopay: ${String(error)}\n`);
    process.exitCode = ExitCode.Failed;
  },
);
