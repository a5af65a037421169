/**
 * A simulated business device (a gate or a dispenser). Real deployments replace it with a driver
 * of the same shape. Its switch makes it fail, for demos and for tests of the void path.
 */
import type { BusinessCommand } from '../../proto/gen/biopay/v1/business.js';

export interface DeviceOutcome {
  readonly succeeded: boolean;
  readonly detail: string;
}

export interface BusinessDevice {
  execute(command: BusinessCommand): Promise<DeviceOutcome>;
}

export interface SimulatedDeviceOptions {
  /** When on, every command fails (the device is broken). */
  readonly failAll?: boolean;
  /** Items the dispenser cannot hand out (out of stock, jammed): their commands fail. */
  readonly failingItems?: readonly string[];
}

export const DEFAULT_FAILING_ITEMS: readonly string[] = ['jammed'];

export class SimulatedDevice implements BusinessDevice {
  private failAll: boolean;
  private readonly failingItems: ReadonlySet<string>;

  constructor(options: SimulatedDeviceOptions = {}) {
    this.failAll = options.failAll ?? false;
    this.failingItems = new Set(options.failingItems ?? DEFAULT_FAILING_ITEMS);
  }

  setFailAll(failAll: boolean): void {
    this.failAll = failAll;
  }

  async execute(command: BusinessCommand): Promise<DeviceOutcome> {
    const what = command.action || 'open-gate';
    if (this.failAll) return { succeeded: false, detail: `${what}: device out of order` };
    if (command.item && this.failingItems.has(command.item)) {
      return { succeeded: false, detail: `${what}: item ${command.item} could not be delivered` };
    }
    return { succeeded: true, detail: command.item ? `${what}: delivered ${command.item}` : `${what}: done` };
  }
}
