/**
 * `biopay match`: the field's usual evaluation harness for our fingerprint matcher.
 *   scores    every probe against every gallery template (CSV)
 *   identify  1:N top-K per probe, with the decision at a target FMR
 *   eval-fvc  EER / FNMR@FMR / zero-FMR per FVC database and their mean, DET curve as SVG
 *   calibrate thresholds for FMR 1e-3, 1e-4, 1e-5 from impostor scores
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { buildCalibration, calibrationModuleSource } from '../core/biometrics/calibrate.js';
import { detSvg } from '../core/biometrics/det-svg.js';
import { detPoints, errorRateCurve } from '../core/biometrics/evaluation.js';
import { folderAccuracy, scoreFolder, type FolderAccuracy } from '../core/biometrics/fvc-eval.js';
import { fvcFolders, loadTemplateFolder } from '../core/biometrics/fvc-dataset.js';
import { MatchEngine } from '../core/biometrics/match-engine.js';
import { MccMatcher, templateRef } from '../core/biometrics/mcc-matcher.js';
import { templateFromIso } from '../core/biometrics/template.js';
import { BiopayError, ErrorCode } from '../core/errors.js';
import { ExitCode, processIo, toJson, type CommandIo } from './io.js';

const usage = `Usage: biopay match <subcommand> [options]

Subcommands:
  scores    --gallery DIR --probes DIR [--out FILE.csv] [--json]
            score of every probe against every gallery template (*.iso; id = file name)
  identify  --gallery DIR --probes DIR [--top K] [--fmr RATE] [--workers N] [--json]
            top K gallery ids per probe, and whether the best passes the threshold for RATE (1e-4)
  eval-fvc  DIR [--det FILE.svg] [--json]
            DIR holds FINGER_IMPRESSION.iso files, or folders of them (one per database):
            EER (all impostor pairs and FVC protocol), FNMR at FMR 1% and 0.1%, zero-FMR
  calibrate DIR... [--out FILE.ts] [--json]
            thresholds for FMR 1e-3, 1e-4, 1e-5 from impostor scores of FVC folders;
            --out writes the table as a calibration module (core/biometrics/calibration-data.ts)

Every subcommand takes --help and --json.`;

type Subcommand = (argv: string[], io: CommandIo) => Promise<number>;

function requireOption(value: string | undefined, name: string): string {
  if (value === undefined || value === '') throw new BiopayError(ErrorCode.BadRequest, `--${name} is required`);
  return value;
}

function positiveNumber(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new BiopayError(ErrorCode.BadRequest, `--${name} must be a positive number`);
  return value;
}

function percent(rate: number): string {
  return `${(rate * 100).toFixed(2)}%`;
}

const scoresCommand: Subcommand = async (argv, io) => {
  const { values } = parseArgs({ args: argv, options: { gallery: { type: 'string' }, probes: { type: 'string' }, out: { type: 'string' }, json: { type: 'boolean' } } });
  const gallery = loadTemplateFolder(requireOption(values.gallery, 'gallery')).map((entry) => ({ id: entry.id, ref: templateRef(templateFromIso(entry.bytes)) }));
  const probes = loadTemplateFolder(requireOption(values.probes, 'probes')).map((entry) => ({ id: entry.id, ref: templateRef(templateFromIso(entry.bytes)) }));
  const matcher = new MccMatcher();
  const rows = ['probe,gallery,score'];
  const scores: { probe: string; gallery: string; score: number }[] = [];
  for (const probe of probes) {
    for (const entry of gallery) {
      const score = matcher.score(probe.ref, entry.ref);
      rows.push(`${probe.id},${entry.id},${score.toFixed(6)}`);
      if (values.json && values.out === undefined) scores.push({ probe: probe.id, gallery: entry.id, score });
    }
  }
  if (values.out !== undefined) writeFileSync(values.out, `${rows.join('\n')}\n`);
  if (values.json) io.stdout(toJson(values.out !== undefined ? { pairs: rows.length - 1, out: values.out } : { scores }));
  else if (values.out === undefined) io.stdout(rows.join('\n'));
  else io.stdout(`${rows.length - 1} scores written to ${values.out}`);
  return ExitCode.Ok;
};

const identifyCommand: Subcommand = async (argv, io) => {
  const { values } = parseArgs({
    args: argv,
    options: { gallery: { type: 'string' }, probes: { type: 'string' }, top: { type: 'string' }, fmr: { type: 'string' }, workers: { type: 'string' }, json: { type: 'boolean' } },
  });
  const topK = positiveNumber(values.top, 'top', 5);
  const targetFmr = positiveNumber(values.fmr, 'fmr', 1e-4);
  const workers = values.workers === undefined ? undefined : Number(values.workers);
  const gallery = loadTemplateFolder(requireOption(values.gallery, 'gallery'));
  const probes = loadTemplateFolder(requireOption(values.probes, 'probes'));
  const engine = await MatchEngine.create({ workers, capacityTemplates: gallery.length });
  try {
    const { refused } = await engine.addMany(gallery.map((entry) => ({ id: entry.id, isoBytes: entry.bytes })));
    refused.forEach((entry) => io.stderr(`gallery ${entry.id} refused: ${entry.reason}`));
    const threshold = engine.thresholdForFmr(targetFmr);
    const results = [];
    for (const probe of probes) {
      const { candidates, searched } = await engine.identify(probe.bytes, { topK });
      results.push({ probe: probe.id, candidates, searched, match: (candidates[0]?.score ?? 0) >= threshold });
    }
    if (values.json) io.stdout(toJson({ targetFmr, threshold, refused, results }));
    else {
      io.stdout(`threshold ${threshold.toFixed(6)} for FMR ${targetFmr}`);
      for (const result of results) {
        const list = result.candidates.map((candidate) => `${candidate.id}:${candidate.score.toFixed(4)}`).join(' ');
        io.stdout(`${result.probe} ${result.match ? 'MATCH' : 'no-match'} ${list}`);
      }
    }
  } finally {
    await engine.close();
  }
  return ExitCode.Ok;
};

function accuracyRow(accuracy: FolderAccuracy): string {
  const all = accuracy.allImpostors;
  return [accuracy.name.padEnd(8), percent(all.eer).padStart(7), percent(accuracy.fvcProtocol.eer).padStart(7), percent(all.fnmrAtFmr1e2).padStart(8), percent(all.fnmrAtFmr1e3).padStart(9), percent(all.zeroFmr).padStart(8)].join(' ');
}

const evalFvcCommand: Subcommand = async (argv, io) => {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { det: { type: 'string' }, json: { type: 'boolean' } } });
  const folders = fvcFolders(requireOption(positionals[0], 'DIR (positional)'));
  const scored = folders.map((folder) => scoreFolder(folder));
  const databases = scored.map(folderAccuracy);
  const mean = (pick: (accuracy: FolderAccuracy) => number) => databases.reduce((sum, accuracy) => sum + pick(accuracy), 0) / databases.length;
  const summary = {
    databases,
    meanEerAllImpostors: mean((accuracy) => accuracy.allImpostors.eer),
    meanEerFvcProtocol: mean((accuracy) => accuracy.fvcProtocol.eer),
    det: values.det,
  };
  if (values.det !== undefined) {
    const series = scored.map((scores) => ({ name: scores.name, points: detPoints(errorRateCurve(scores.genuine, scores.impostorAll)) }));
    writeFileSync(values.det, detSvg(series, 'DET, all impostor pairs'));
  }
  if (values.json) io.stdout(toJson(summary));
  else {
    io.stdout('database  EER-all EER-fvc FNMR@1% FNMR@0.1% zeroFMR');
    databases.forEach((accuracy) => io.stdout(accuracyRow(accuracy)));
    io.stdout(`mean     ${percent(summary.meanEerAllImpostors).padStart(7)} ${percent(summary.meanEerFvcProtocol).padStart(7)}`);
    if (values.det !== undefined) io.stdout(`DET curve written to ${values.det}`);
  }
  return ExitCode.Ok;
};

const calibrateCommand: Subcommand = async (argv, io) => {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { out: { type: 'string' }, json: { type: 'boolean' } } });
  if (positionals.length === 0) throw new BiopayError(ErrorCode.BadRequest, 'at least one FVC folder is required');
  const calibration = buildCalibration(positionals.flatMap((dir) => fvcFolders(dir)));
  if (values.out !== undefined) writeFileSync(values.out, calibrationModuleSource(calibration));
  if (values.json) io.stdout(toJson(calibration));
  else {
    io.stdout(`${calibration.impostorPairs} impostor pairs; ${calibration.method}`);
    calibration.points.forEach((point) => io.stdout(`FMR ${point.fmr}: threshold ${point.threshold}`));
  }
  return ExitCode.Ok;
};

const subcommands: Record<string, Subcommand> = {
  scores: scoresCommand,
  identify: identifyCommand,
  'eval-fvc': evalFvcCommand,
  calibrate: calibrateCommand,
};

export async function matchCommand(argv: string[], io: CommandIo = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h') {
    io.stdout(usage);
    return name === undefined ? ExitCode.Usage : ExitCode.Ok;
  }
  const subcommand = subcommands[name];
  if (subcommand === undefined) {
    io.stderr(`biopay match: unknown subcommand "${name}"\n\n${usage}`);
    return ExitCode.Usage;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout(usage);
    return ExitCode.Ok;
  }
  return subcommand(rest, io);
}
