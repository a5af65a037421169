import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MatchEngine } from '../../../core/biometrics/match-engine.js';
import {
  componentCpuPerPayment, componentSwitchesPerPayment, cpuByComponentRows, cpuSnapshot, describeCpuByComponent, describeSwitchesByComponent, nodeProcessCpuPerPayment,
  parseContextSwitches, parseStatLine, type ComponentCpu, type CpuSnapshot,
} from '../../../core/load/cpu-breakdown.js';
import { MATCHER_THREAD_NAME } from '../../../core/thread-names.js';
import { loadFvcDatabase } from '../biometrics/fvc-fixtures.js';

/** A stat line as Linux writes it: utime and stime are fields 14 and 15 (ticks of 10 ms). */
function statLine(pid: number, comm: string, utimeTicks: number, stimeTicks: number): string {
  return `${pid} (${comm}) S 1 ${pid} ${pid} 0 -1 4194560 1200 0 0 0 ${utimeTicks} ${stimeTicks} 0 0 20 0 7 0 5000 123456789 4000 18446744073709551615\n`;
}

/** A status file's context switch lines, between others as Linux writes them. */
function statusText(voluntary: number, involuntary: number): string {
  return `Name:\tnode\nState:\tS (sleeping)\nThreads:\t1\nvoluntary_ctxt_switches:\t${voluntary}\nnonvoluntary_ctxt_switches:\t${involuntary}\n`;
}

/** Totals per component of one snapshot (CPU time so far, ms). */
function componentTotals(snapshot: CpuSnapshot): ComponentCpu {
  const totals: ComponentCpu = { mainThread: 0, matcherThreads: 0, otherThreads: 0, biopayNodes: 0, natsServer: 0, postgres: 0 };
  for (const entry of snapshot.values()) totals[entry.component] += entry.cpuMs;
  return totals;
}

describe('parseStatLine', () => {
  it('reads the name and user + system time, whatever spaces or parentheses the name holds', () => {
    expect(parseStatLine(statLine(42, 'node', 150, 30))).toEqual({ comm: 'node', cpuMs: 1800 });
    expect(parseStatLine(statLine(43, 'a) b (c', 1, 2))).toEqual({ comm: 'a) b (c', cpuMs: 30 });
  });

  it('is undefined for anything that is not a stat line', () => {
    expect(parseStatLine('')).toBeUndefined();
    expect(parseStatLine('42 node S 1')).toBeUndefined();
    expect(parseStatLine('42 (node) S 1 2 3')).toBeUndefined();
    expect(parseStatLine(statLine(42, 'node', -1, 0))).toBeUndefined();
  });
});

describe('parseContextSwitches', () => {
  it('reads both counts of a status file, and nothing from a file without them', () => {
    expect(parseContextSwitches(statusText(1234, 56))).toEqual({ voluntarySwitches: 1234, involuntarySwitches: 56 });
    expect(parseContextSwitches('Name:\tnode\nvoluntary_ctxt_switches:\t3\n')).toBeUndefined();
    expect(parseContextSwitches('')).toBeUndefined();
    expect(parseContextSwitches(statusText(1, 2).replace('voluntary_ctxt_switches:\t1', 'voluntary_ctxt_switches:\tx'))).toBeUndefined();
  });
});

describe('cpuSnapshot on a /proc tree', () => {
  const root = mkdtempSync(join(tmpdir(), 'biopay-proc-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  function put(path: string, text: string): void {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
  }

  it('splits this process by thread and counts every biopay node, nats-server and postgres process of the machine', () => {
    put('100/stat', statLine(100, 'node', 1000, 1000));
    put('100/task/100/stat', statLine(100, 'node', 50, 10));
    put('100/task/101/stat', statLine(101, MATCHER_THREAD_NAME, 30, 0));
    put('100/task/102/stat', statLine(102, MATCHER_THREAD_NAME, 20, 1));
    put('100/task/103/stat', statLine(103, 'node', 7, 1));
    put('100/task/104/stat', 'garbage');
    put('200/stat', statLine(200, 'nats-server', 40, 2));
    put('300/stat', statLine(300, 'postgres', 5, 5));
    put('301/stat', statLine(301, 'postgres', 1, 1));
    put('400/stat', statLine(400, 'bash', 99, 99));
    put('500/stat', statLine(500, 'biopay-assoc', 70, 30));
    put('501/stat', statLine(501, 'biopay-account', 10, 0));
    mkdirSync(join(root, 'sys'), { recursive: true });
    // Context switches: a thread's own, a process's summed over its threads; a missing file counts none.
    put('100/task/100/status', statusText(40, 4));
    put('100/task/101/status', statusText(7, 9));
    put('200/task/200/status', statusText(100, 1));
    put('200/task/201/status', statusText(23, 2));
    put('200/status', statusText(100, 1));
    const snapshot = cpuSnapshot(root, 100)!;
    expect(snapshot.get('t100')).toMatchObject({ voluntarySwitches: 40, involuntarySwitches: 4 });
    expect(snapshot.get('t102')).toMatchObject({ voluntarySwitches: 0, involuntarySwitches: 0 });
    expect(snapshot.get('p200')).toMatchObject({ voluntarySwitches: 123, involuntarySwitches: 3 });
    expect(componentTotals(snapshot)).toEqual({ mainThread: 600, matcherThreads: 510, otherThreads: 80, biopayNodes: 1100, natsServer: 420, postgres: 120 });
    // This process is counted by its threads, never again as a process.
    expect(snapshot.get('p100')).toBeUndefined();
    expect(snapshot.get('t101')).toEqual({ component: 'matcherThreads', cpuMs: 300, voluntarySwitches: 7, involuntarySwitches: 9 });
    expect(snapshot.get('p400')).toBeUndefined();
  });

  it('splits the biopay node processes by name, largest first, and is empty without any', () => {
    const before = cpuSnapshot(root, 100)!;
    put('500/stat', statLine(500, 'biopay-assoc', 170, 30));
    put('501/stat', statLine(501, 'biopay-account', 20, 0));
    put('502/stat', statLine(502, 'biopay-assoc', 40, 0));
    const after = cpuSnapshot(root, 100)!;
    expect(nodeProcessCpuPerPayment(before, after, 100)).toEqual({ 'biopay-assoc': 14, 'biopay-account': 1 });
    expect(Object.keys(nodeProcessCpuPerPayment(before, after, 100))).toEqual(['biopay-assoc', 'biopay-account']);
    expect(nodeProcessCpuPerPayment(new Map(), new Map([['t1', { component: 'mainThread', cpuMs: 5, voluntarySwitches: 0, involuntarySwitches: 0 }]]), 1)).toEqual({});
  });

  it('is unknown where the tree cannot be read', () => {
    expect(cpuSnapshot(join(root, 'missing'), 100)).toBeUndefined();
  });

  it('gives per payment differences, each thread and process by itself, labelled largest first', () => {
    const snapshot = (entries: Array<[string, string, number]>): CpuSnapshot =>
      new Map(entries.map(([id, component, cpuMs]) => [id, { component: component as 'mainThread', cpuMs, voluntarySwitches: 0, involuntarySwitches: 0 }]));
    const before = snapshot([['t1', 'mainThread', 100], ['t2', 'matcherThreads', 50], ['t3', 'otherThreads', 10], ['p7', 'natsServer', 20], ['p8', 'postgres', 500], ['p9', 'postgres', 5], ['p11', 'biopayNodes', 100]]);
    // Backend 8 closed (its time goes with it), backend 10 opened (all its time counts).
    const after = snapshot([['t1', 'mainThread', 1100], ['t2', 'matcherThreads', 1550], ['t3', 'otherThreads', 110], ['p7', 'natsServer', 320], ['p9', 'postgres', 105], ['p10', 'postgres', 100], ['p11', 'biopayNodes', 500]]);
    const perPayment = componentCpuPerPayment(before, after, 1000);
    expect(perPayment).toEqual({ mainThread: 1, matcherThreads: 1.5, otherThreads: 0.1, biopayNodes: 0.4, natsServer: 0.3, postgres: 0.2 });
    expect(cpuByComponentRows({ ...perPayment, restOfMachine: 0.25 })[0]).toEqual(['matcher threads', 1.5]);
    expect(describeCpuByComponent({ ...perPayment, restOfMachine: 0.25 }))
      .toBe('matcher threads 1.5, main thread 1, biopay node processes 0.4, nats-server 0.3, rest of the machine 0.25, PostgreSQL 0.2, other threads of this process 0.1');
  });
});

describe('context switches per payment', () => {
  const entry = (component: string, voluntarySwitches: number, involuntarySwitches: number) =>
    ({ component: component as 'mainThread', cpuMs: 0, voluntarySwitches, involuntarySwitches });

  it('counts each thread and process by itself, per payment, and describes the parts that switched, most first', () => {
    const before: CpuSnapshot = new Map([['t1', entry('mainThread', 1000, 500)], ['p7', entry('natsServer', 2000, 10)], ['p8', entry('postgres', 50, 0)]]);
    // Backend 8 closed (its switches go with it), backend 9 opened (all of its own count).
    const after: CpuSnapshot = new Map([['t1', entry('mainThread', 1340, 760)], ['p7', entry('natsServer', 2970, 170)], ['p9', entry('postgres', 470, 40)]]);
    const switches = componentSwitchesPerPayment(before, after, 100);
    expect(switches.voluntary).toMatchObject({ mainThread: 3.4, natsServer: 9.7, postgres: 4.7, matcherThreads: 0 });
    expect(switches.involuntary).toMatchObject({ mainThread: 2.6, natsServer: 1.6, postgres: 0.4, matcherThreads: 0 });
    expect(describeSwitchesByComponent(switches)).toBe('nats-server 9.7/1.6, main thread 3.4/2.6, PostgreSQL 4.7/0.4');
  });
});

describe('cpuSnapshot on this machine', () => {
  it('names the matcher threads and counts their searches as theirs, not the main thread\'s (Linux; unknown elsewhere)', async () => {
    const engine = await MatchEngine.create({ workers: 1 });
    try {
      const fingers = loadFvcDatabase('DB1_B');
      for (const finger of fingers) engine.add(finger.id, finger.bytes);
      await engine.identify(fingers[0]!.bytes);
      const first = cpuSnapshot();
      if (process.platform !== 'linux') {
        expect(first).toBeUndefined();
        return;
      }
      const names = readdirSync('/proc/self/task').map((tid) => readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim());
      expect(names).toContain(MATCHER_THREAD_NAME);
      // Searches until the matcher thread's clock (10 ms ticks) has moved well past the main
      // thread's own noise (a busy test machine once left both at 50 ms): a bounded number of rounds.
      let spent = componentCpuPerPayment(first!, first!, 1);
      for (let round = 0; round < 50 && spent.matcherThreads < 200; round++) {
        for (const finger of fingers) await engine.identify(finger.bytes);
        spent = componentCpuPerPayment(first!, cpuSnapshot()!, 1);
      }
      expect(spent.matcherThreads).toBeGreaterThanOrEqual(200);
      expect(spent.mainThread).toBeLessThan(spent.matcherThreads);
      // Every search woke the matcher thread, which waits for work between searches.
      expect(componentSwitchesPerPayment(first!, cpuSnapshot()!, 1).voluntary.matcherThreads).toBeGreaterThan(0);
    } finally {
      await engine.close();
    }
  });
});
