/**
 * One node process for failover.test.ts: serves the test kind under shard leases and answers `get`
 * with its own node id as the account owner. Args: nodeId, comma-separated NATS URLs, shardCount, ttlMs.
 */
import { ActorSystem, type Actor } from '../../../core/actors/index.js';
import { onShutdown } from '../../../core/lifecycle.js';
import { connectNats } from '../../../core/transport/nats.js';
import { Account } from '../../../proto/gen/biopay/v1/ledger.js';
import { KIND, TestProtocol } from './fixtures.js';

const [nodeId = 'node', urls = '', shardCount = '12', ttlMs = '1500'] = process.argv.slice(2);

class OwnerActor implements Actor {
  constructor(private readonly key: string) {}
  async receive(): Promise<unknown> {
    return Account.fromPartial({ accountId: this.key, owner: nodeId });
  }
}

const nc = await connectNats({ servers: urls.split(','), name: nodeId });
const system = new ActorSystem({ nodeId, nats: nc, shardCount: Number(shardCount), logger: () => undefined });
system.register(KIND, TestProtocol, (key) => new OwnerActor(key));
await system.serve(KIND, { ownership: 'lease', lease: { ttlMs: Number(ttlMs), replicas: 3 } });
onShutdown(async () => {
  await system.drain();
  await nc.close();
});
process.stdout.write(`ready ${JSON.stringify(system.ownedShards(KIND))}\n`);
