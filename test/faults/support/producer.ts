import { connect, type MqttClient } from 'mqtt';

/** An event a producer was told was taken: 202 from the API, or PUBACK from the broker. */
export interface AcceptedEvent {
  id: string;
  user: string;
  via: 'http' | 'mqtt';
  /** When the producer sent it (epoch ms). */
  sentAt: number;
}

export interface StreamSettings {
  /** Events per second, over HTTP and MQTT together. */
  rate: number;
  durationMs: number;
  /** Makes this stream's event ids unlike those of other streams of the same producer. */
  idPrefix: string;
  /** Which user event `i` goes to. */
  userFor(i: number): string;
  /** Every `mqttEvery`-th event goes over MQTT (0: none). */
  mqttEvery: number;
  /** Called once, `faultAtMs` after the stream started (the fault); awaited before the end. */
  faultAtMs?: number;
  fault?(): Promise<void>;
}

export interface StreamResult {
  accepted: AcceptedEvent[];
  /**
   * Events not accepted, by HTTP status (0: no answer: connection refused or reset; -1: an MQTT
   * publish without PUBACK in time).
   */
  refused: Map<number, number>;
  /** `Retry-After` values of the 503 answers. */
  retryAfter: string[];
  /** Events not sent because too many were already waiting for an answer. */
  skipped: number;
}

/** Events waiting for an answer at most; beyond that the producer skips (back-pressure). */
const MAX_IN_FLIGHT = 400;
const PUBACK_TIMEOUT_MS = 30_000;

/**
 * A producer service that sends events at a steady rate, over `POST /v1/notifications` and
 * (some) over MQTT QoS 1, each with an id of its own and `delivery: always` so that both the
 * realtime and the Web Push path must carry it, and records which ones were accepted.
 */
export class Producer {
  private mqtt: MqttClient | undefined;

  constructor(
    private readonly settings: { httpBase: string; mqttUrl: string; key: string; keyName: string; pkg: string; runId: string },
  ) {}

  async connect(): Promise<void> {
    this.mqtt = connect(this.settings.mqttUrl, {
      clientId: `producer-${this.settings.runId}`,
      // A persistent session: a publish in flight when the broker died is sent again.
      clean: false,
      username: this.settings.keyName,
      password: this.settings.key,
      reconnectPeriod: 300,
      log: () => undefined,
    });
    this.mqtt.on('error', () => undefined);
    await new Promise<void>((resolve) => this.mqtt!.once('connect', () => resolve()));
  }

  async stream(s: StreamSettings): Promise<StreamResult> {
    const result: StreamResult = { accepted: [], refused: new Map(), retryAfter: [], skipped: 0 };
    const pending = new Set<Promise<void>>();
    const started = Date.now();
    let faulted: Promise<{ err: unknown } | null> | undefined;
    for (let i = 0; ; i++) {
      // Event i leaves at its slot in the schedule, however late the previous ones were.
      const due = started + (i * 1000) / s.rate;
      if (due - started >= s.durationMs) break;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (s.fault && !faulted && Date.now() - started >= (s.faultAtMs ?? 0)) {
        // Settled here and rethrown after the stream, so a failing fault is not left unhandled.
        faulted = s.fault().then(() => null, (err: unknown) => ({ err }));
      }
      if (pending.size >= MAX_IN_FLIGHT) {
        result.skipped++;
        continue;
      }
      const event = { id: `${this.settings.runId}-${s.idPrefix}-${i}`, user: s.userFor(i) };
      const via = s.mqttEvery > 0 && i % s.mqttEvery === 0 ? 'mqtt' : 'http';
      const sending = (via === 'mqtt' ? this.publish(event, result) : this.post(event, result)).finally(() =>
        pending.delete(sending),
      );
      pending.add(sending);
    }
    const failure = await faulted;
    await Promise.all(pending);
    if (failure) throw failure.err;
    return result;
  }

  async close(): Promise<void> {
    await this.mqtt?.endAsync(true);
  }

  private body(id: string) {
    return { id, title: `Event ${id}`, body: 'fault test', delivery: 'always', ttl: 3_600 };
  }

  private async post(event: { id: string; user: string }, result: StreamResult): Promise<void> {
    const sentAt = Date.now();
    let status = 0;
    try {
      const res = await fetch(`${this.settings.httpBase}/v1/notifications`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': this.settings.key },
        body: JSON.stringify({ ...this.body(event.id), package: this.settings.pkg, target: { user: event.user } }),
        signal: AbortSignal.timeout(15_000),
      });
      status = res.status;
      if (status === 503) result.retryAfter.push(res.headers.get('retry-after') ?? '');
      await res.arrayBuffer();
    } catch {
      // No answer: the API was down or died mid-request. Not accepted.
    }
    if (status === 202) result.accepted.push({ ...event, via: 'http', sentAt });
    else result.refused.set(status, (result.refused.get(status) ?? 0) + 1);
  }

  private publish(event: { id: string; user: string }, result: StreamResult): Promise<void> {
    const sentAt = Date.now();
    const topic = `axion/${this.settings.pkg}/notify/user/${event.user}`;
    return new Promise<void>((resolve) => {
      // Not acknowledged in time: not counted as accepted (a late PUBACK is simply not checked).
      const timer = setTimeout(() => {
        result.refused.set(-1, (result.refused.get(-1) ?? 0) + 1);
        resolve();
      }, PUBACK_TIMEOUT_MS);
      // mqtt.js keeps a QoS 1 publish until its PUBACK, across reconnects: the callback is the PUBACK.
      this.mqtt!.publish(topic, JSON.stringify(this.body(event.id)), { qos: 1 }, (err) => {
        clearTimeout(timer);
        if (!err) result.accepted.push({ ...event, via: 'mqtt', sentAt });
        else result.refused.set(-1, (result.refused.get(-1) ?? 0) + 1);
        resolve();
      });
    });
  }
}
