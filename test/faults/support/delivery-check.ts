import type { Message } from '../../../shared/events/index.js';
import { decryptPayload } from '../../support/web-push-receiver.js';
import type { Device, FaultRig } from './fault-rig.js';
import type { AcceptedEvent } from './producer.js';

/** What reached the devices of the users of the accepted events. */
export interface DeliveryReport {
  /** `<event id> → <device>` pairs never delivered. */
  missingPush: string[];
  missingRealtime: string[];
  expectedPushes: number;
  expectedRealtime: number;
  /** Deliveries beyond the first, in all, and the most to any one device for one event... */
  pushRepeats: number;
  realtimeRepeats: number;
  /** ...and the most repeats any one device got, over all events (a device's own bound). */
  maxPushRepeatsPerDevice: number;
  maxRealtimeRepeatsPerDevice: number;
  /** Milliseconds from sending an event to its first delivery, per push origin. */
  latencyByOrigin: Map<string, number[]>;
}

/** What one device was sent: event id → arrival times. Decrypted once per delivery, as a browser would. */
class DeviceLog {
  readonly arrivals = new Map<string, number[]>();
  private read = 0;

  constructor(private readonly device: Device) {}

  update(): void {
    const delivered = this.device.origin.delivered.get(this.device.path) ?? [];
    for (; this.read < delivered.length; this.read++) {
      const { body, at } = delivered[this.read]!;
      const { keys } = this.device;
      const message = JSON.parse(
        decryptPayload({ body, privateKey: keys.privateKey, auth: keys.auth }).toString('utf8'),
      ) as Message;
      this.arrivals.set(message.id, [...(this.arrivals.get(message.id) ?? []), at]);
    }
  }
}

/**
 * Reads what every push service and dashboard got and compares it with the accepted events:
 * each must have reached every active subscription of its user over Web Push, and the user's
 * dashboard (if open) over MQTT (the producer asked for `delivery: always`).
 */
export class DeliveryCheck {
  private readonly logs = new Map<Device, DeviceLog>();

  constructor(private readonly rig: FaultRig) {}

  report(accepted: readonly AcceptedEvent[]): DeliveryReport {
    const report: DeliveryReport = {
      missingPush: [], missingRealtime: [], expectedPushes: 0, expectedRealtime: 0, pushRepeats: 0,
      realtimeRepeats: 0, maxPushRepeatsPerDevice: 0, maxRealtimeRepeatsPerDevice: 0, latencyByOrigin: new Map(),
    };
    const pushRepeats = new Map<Device, number>();
    const realtimeRepeats = new Map<string, number>();
    for (const event of accepted) {
      for (const device of this.rig.devices.get(event.user)!) {
        const log = this.logOf(device);
        const arrivals = log.arrivals.get(event.id) ?? [];
        report.expectedPushes++;
        if (arrivals.length === 0) {
          report.missingPush.push(`${event.id} → ${device.origin.origin}${device.path}`);
          continue;
        }
        const latencies = report.latencyByOrigin.get(device.origin.origin) ?? [];
        latencies.push(Math.min(...arrivals) - event.sentAt);
        report.latencyByOrigin.set(device.origin.origin, latencies);
        pushRepeats.set(device, (pushRepeats.get(device) ?? 0) + arrivals.length - 1);
      }
      if (!this.rig.dashboards.received.has(event.user)) continue;
      report.expectedRealtime++;
      const times = this.rig.dashboards.count(event.user, event.id);
      if (times === 0) report.missingRealtime.push(`${event.id} → dashboard of ${event.user}`);
      realtimeRepeats.set(event.user, (realtimeRepeats.get(event.user) ?? 0) + Math.max(0, times - 1));
    }
    for (const n of pushRepeats.values()) {
      report.pushRepeats += n;
      report.maxPushRepeatsPerDevice = Math.max(report.maxPushRepeatsPerDevice, n);
    }
    for (const n of realtimeRepeats.values()) {
      report.realtimeRepeats += n;
      report.maxRealtimeRepeatsPerDevice = Math.max(report.maxRealtimeRepeatsPerDevice, n);
    }
    return report;
  }

  /**
   * Waits until every accepted event has reached every device, or `timeoutMs`; then a little
   * longer, so that a late repeat (a resumed job, a redelivery) is counted too.
   */
  async drain(accepted: readonly AcceptedEvent[], timeoutMs: number, settleMs = 2_000): Promise<DeliveryReport> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const report = this.report(accepted);
      const done = report.missingPush.length === 0 && report.missingRealtime.length === 0;
      if (done || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    await new Promise((r) => setTimeout(r, settleMs));
    return this.report(accepted);
  }

  private logOf(device: Device): DeviceLog {
    let log = this.logs.get(device);
    if (!log) {
      log = new DeviceLog(device);
      this.logs.set(device, log);
    }
    log.update();
    return log;
  }
}

/** One line for a failed assertion: counts and the first few misses. */
export function describeReport(r: DeliveryReport): string {
  return JSON.stringify({
    expectedPushes: r.expectedPushes, missingPush: r.missingPush.length, firstMissingPush: r.missingPush.slice(0, 5),
    expectedRealtime: r.expectedRealtime, missingRealtime: r.missingRealtime.length,
    firstMissingRealtime: r.missingRealtime.slice(0, 5), pushRepeats: r.pushRepeats, realtimeRepeats: r.realtimeRepeats,
    maxPushRepeatsPerDevice: r.maxPushRepeatsPerDevice, maxRealtimeRepeatsPerDevice: r.maxRealtimeRepeatsPerDevice,
  });
}
