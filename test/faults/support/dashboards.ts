import { connect, type MqttClient } from 'mqtt';
import type { Message } from '../../../shared/events/index.js';
import { userToken } from '../../support/tokens.js';

/**
 * Dashboards as browsers keep them: one MQTT client per user, a persistent session
 * (clean=false, a fixed client id) subscribed at QoS 1 to the user's push topic, reconnecting
 * by itself. Records every Message id each user's dashboard received, repeats included.
 */
export class Dashboards {
  /** user → Message id → how many times it arrived. */
  readonly received = new Map<string, Map<string, number>>();
  private readonly clients: MqttClient[] = [];

  constructor(
    private readonly mqttUrl: string,
    private readonly pkg: string,
    private readonly topicRoot = 'axion',
  ) {}

  /** Connects a dashboard per user and resolves once each has its subscription. */
  async connect(users: readonly string[], runId: string): Promise<void> {
    // A few at a time: 200 CONNECTs at once each verify a JWT and a session on a loaded broker.
    for (let i = 0; i < users.length; i += 20) {
      await Promise.all(users.slice(i, i + 20).map((user) => this.connectOne(user, runId)));
    }
  }

  /** How many times `user`'s dashboard got Message `id`. */
  count(user: string, id: string): number {
    return this.received.get(user)?.get(id) ?? 0;
  }

  /** Dashboards connected right now. */
  get connected(): number {
    return this.clients.filter((c) => c.connected).length;
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.endAsync(true)));
  }

  private async connectOne(user: string, runId: string): Promise<void> {
    const counts = new Map<string, number>();
    this.received.set(user, counts);
    const client = connect(this.mqttUrl, {
      clientId: `dash-${runId}-${user}`,
      clean: false,
      username: user,
      password: await userToken(user, [this.pkg], { expiresIn: '2h' }),
      reconnectPeriod: 300,
      connectTimeout: 5_000,
      log: () => undefined,
    });
    this.clients.push(client);
    client.on('error', () => undefined);
    client.on('message', (_topic, payload) => {
      const message = JSON.parse(payload.toString()) as Message | { type: 'unseen' };
      // The inbox's unseen counts follow the Messages on the same topic; only Messages count.
      if (!('id' in message)) return;
      counts.set(message.id, (counts.get(message.id) ?? 0) + 1);
    });
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => {
        client.subscribe(`${this.topicRoot}/${this.pkg}/push/${user}`, { qos: 1 }, (err, granted) => {
          if (err) reject(err);
          else if (granted?.[0]?.qos !== 1) reject(new Error(`subscription of ${user} refused`));
          else resolve();
        });
      });
    });
  }
}
