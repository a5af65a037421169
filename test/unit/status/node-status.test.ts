import { describe, expect, it } from 'vitest';
import { countersBetween, describeNodes, parseNodeStatus, summarizeNodes, type NodeStatus } from '../../../core/status/node-status.js';

const base: NodeStatus = { node: 'n1', roles: ['account', 'association'], pid: 10, version: '0.1.0', startedAt: '2026-12-06T00:00:00.000Z', uptimeMs: 5 };

function node(overrides: Partial<NodeStatus>): NodeStatus {
  return { ...base, ...overrides };
}

const association = { templates: 3, galleryBytes: 100, partition: '0/1', matcherThreads: 2, brownout: true, identifiesBrownedOut: 0 };

describe('parseNodeStatus', () => {
  it('keeps a status whole', () => {
    const status = node({ association, account: { ledgerTransactions: 4, ledgerOperations: 9 } });
    expect(parseNodeStatus(JSON.parse(JSON.stringify(status)))).toEqual(status);
  });

  it('refuses what is not a status, rather than trusting part of it', () => {
    for (const value of [
      null, 7, 'text', [], {}, { ...base, node: '' }, { ...base, pid: -1 }, { ...base, uptimeMs: 1.5 }, { ...base, roles: 'account' },
      { ...base, roles: Array.from({ length: 17 }, () => 'x') }, { ...base, version: 'v'.repeat(257) },
      { ...base, association: { ...association, templates: '3' } }, { ...base, account: { ledgerTransactions: 1 } },
      { ...base, terminal: [] }, { ...base, account: { ledgerTransactions: Number.MAX_SAFE_INTEGER + 2, ledgerOperations: 0 } },
    ]) {
      expect(parseNodeStatus(value), JSON.stringify(value)).toBeUndefined();
    }
  });
});

describe('countersBetween', () => {
  it('sums what each node grew by over the nodes present in both readings', () => {
    const before = [
      node({ node: 'a', account: { ledgerTransactions: 10, ledgerOperations: 30 } }),
      node({ node: 'b', association: { ...association, identifiesBrownedOut: 5 } }),
      node({ node: 'c', association: { ...association, identifiesBrownedOut: 1 } }),
    ];
    const after = [
      node({ node: 'a', account: { ledgerTransactions: 14, ledgerOperations: 50 } }),
      node({ node: 'b', association: { ...association, identifiesBrownedOut: 8 } }),
      node({ node: 'c', association: { ...association, identifiesBrownedOut: 3 } }),
      // Joined during the phase: its counters are not the phase's.
      node({ node: 'd', account: { ledgerTransactions: 1_000, ledgerOperations: 1_000 } }),
    ];
    expect(countersBetween(before, after)).toEqual({ ledger: { transactions: 4, operations: 20 }, identifiesBrownedOut: 5 });
  });

  it('leaves out a node that restarted in between, and a role nobody ran', () => {
    const before = [node({ node: 'a', account: { ledgerTransactions: 100, ledgerOperations: 300 } })];
    const restarted = [node({ node: 'a', startedAt: '2026-12-06T00:01:00.000Z', account: { ledgerTransactions: 2, ledgerOperations: 2 } })];
    expect(countersBetween(before, restarted)).toEqual({});
    expect(countersBetween([], [])).toEqual({});
  });
});

describe('summarizeNodes and describeNodes', () => {
  it('say who the nodes are without their counters', () => {
    const nodes = summarizeNodes([
      node({ node: 'a', roles: ['account'], account: { ledgerTransactions: 5, ledgerOperations: 9 } }),
      node({ node: 'b', roles: ['association'], version: '0.2.0', association: { ...association, matcherThreads: 1, partition: '1/2' } }),
    ]);
    expect(nodes).toEqual([
      { node: 'a', roles: ['account'], version: '0.1.0' },
      { node: 'b', roles: ['association'], version: '0.2.0', association: { partition: '1/2', matcherThreads: 1, brownout: true } },
    ]);
    expect(describeNodes(nodes)).toBe('2 nodes, version 0.1.0 and 0.2.0: account; association (partition 1/2, 1 matcher thread, brownout)');
    expect(describeNodes([])).toMatch(/^no node answered the status service/);
  });
});
