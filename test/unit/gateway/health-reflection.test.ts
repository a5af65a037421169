import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentials, loadPackageDefinition, makeClientConstructor, type GrpcObject, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { service as healthService } from 'grpc-health-check';
import { GATEWAY_SERVICE_NAME } from '../../../nodes/gateway/index.js';
import { startHarness, type Harness } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.stop();
});

describe('standard services', () => {
  it('answers the gRPC health check with SERVING', async () => {
    const HealthClient = makeClientConstructor(healthService, 'grpc.health.v1.Health');
    const client = new HealthClient(h.address, credentials.createInsecure()) as any;
    const check = (name: string) => new Promise<any>((resolve, reject) => {
      client.check({ service: name }, (error: Error | null, response: unknown) => (error ? reject(error) : resolve(response)));
    });
    expect((await check('')).status).toBe('SERVING');
    expect((await check(GATEWAY_SERVICE_NAME)).status).toBe('SERVING');
    client.close();
  });

  it('lists biopay.v1.GatewayService through server reflection', async () => {
    const require = createRequire(import.meta.url);
    const reflectionProto = require.resolve('@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto');
    const definition = loadSync(reflectionProto, { keepCase: true });
    const v1 = ((loadPackageDefinition(definition).grpc as GrpcObject).reflection as GrpcObject).v1 as GrpcObject;
    const Reflection = v1.ServerReflection as ServiceClientConstructor;
    const client = new Reflection(h.address, credentials.createInsecure()) as any;
    const services = await new Promise<string[]>((resolve, reject) => {
      const call = client.ServerReflectionInfo();
      call.on('data', (response: any) => {
        resolve(response.list_services_response.service.map((s: { name: string }) => s.name));
        call.end();
      });
      call.on('error', reject);
      call.write({ list_services: '' });
    });
    client.close();
    expect(services).toContain(GATEWAY_SERVICE_NAME);
    expect(services).toContain('grpc.health.v1.Health');
  });
});
