/** The fields aedes keeps of a QoS 1/2 message waiting for a persistent session's PUBACK. */
interface QueuedPacket {
  cmd: string;
  brokerId?: string;
  brokerCounter?: number;
  messageId?: number;
  [field: string]: unknown;
}

interface Client {
  id: string;
}

/** One persistent session's unacknowledged messages, in the order they were queued. */
interface Queue {
  byOrigin: Map<string, QueuedPacket>;
  /** aedes does not check that a packet id is free: after a reconnect two messages may share one. */
  originsOfId: Map<number, Set<string>>;
}

/** The outgoing-queue half of aedes-persistence's in-memory store (aedes-persistence 11). */
export interface OutgoingQueues {
  outgoingEnqueue(sub: { clientId: string }, packet: QueuedPacket): Promise<void>;
  outgoingEnqueueCombi(subs: { clientId: string }[], packet: QueuedPacket): Promise<void>;
  outgoingUpdate(client: Client, packet: QueuedPacket): Promise<void>;
  outgoingClearMessageId(client: Client, packet: QueuedPacket): Promise<QueuedPacket | undefined>;
  outgoingStream(client: Client): QueuedPacket[];
}

const originOf = (packet: QueuedPacket) => `${packet.brokerId}\u0000${packet.brokerCounter}`;

function index(queue: Queue, messageId: number, origin: string): void {
  const origins = queue.originsOfId.get(messageId);
  if (origins) origins.add(origin);
  else queue.originsOfId.set(messageId, new Set([origin]));
}

function unindex(queue: Queue, messageId: number, origin: string): void {
  const origins = queue.originsOfId.get(messageId);
  origins?.delete(origin);
  if (origins?.size === 0) queue.originsOfId.delete(messageId);
}

/** The message holding `messageId` that comes first in the queue, as aedes-persistence's scan finds it. */
function firstWithId(queue: Queue, messageId: number): string | undefined {
  const origins = queue.originsOfId.get(messageId);
  if (!origins || origins.size === 0) return undefined;
  if (origins.size === 1) return origins.values().next().value;
  for (const [origin, queued] of queue.byOrigin) if (queued.messageId === messageId) return origin;
  return undefined;
}

/**
 * aedes-persistence's memory store keeps a session's unacknowledged messages in an array and
 * scans it on every delivery and every PUBACK. The router's intake is one such session, with up
 * to a thousand messages in hand, so the scans cost the broker more than delivering (bench:
 * realtime). These queues find a message by its origin (broker id and counter) or its packet id
 * in a Map, and keep the queue order for redelivery, with the same answers as the scans.
 */
export function createOutgoingQueues(): OutgoingQueues {
  const queues = new Map<string, Queue>();
  const queueOf = (clientId: string) => {
    let queue = queues.get(clientId);
    if (!queue) {
      queue = { byOrigin: new Map(), originsOfId: new Map() };
      queues.set(clientId, queue);
    }
    return queue;
  };
  const enqueue = (clientId: string, packet: QueuedPacket) => {
    // A copy without the packet id: each delivery gives it the id of that connection.
    const { messageId: _none, ...copy } = packet;
    queueOf(clientId).byOrigin.set(originOf(packet), copy);
  };

  return {
    async outgoingEnqueue(sub, packet) {
      enqueue(sub.clientId, packet);
    },
    async outgoingEnqueueCombi(subs, packet) {
      for (const sub of subs) enqueue(sub.clientId, packet);
    },
    async outgoingUpdate(client, packet) {
      const queue = queueOf(client.id);
      const origin = originOf(packet);
      const queued = packet.brokerId === undefined ? undefined : queue.byOrigin.get(origin);
      if (queued) {
        // A redelivery on a new connection may get a new packet id.
        if (queued.messageId !== undefined) unindex(queue, queued.messageId, origin);
        queued.messageId = packet.messageId;
        if (packet.messageId !== undefined) index(queue, packet.messageId, origin);
        return;
      }
      // QoS 2: the PUBREL takes the place of the PUBLISH it answers, in the same position.
      const byId = packet.messageId === undefined ? undefined : firstWithId(queue, packet.messageId);
      if (byId !== undefined && queue.byOrigin.get(byId)?.brokerId !== packet.brokerId) {
        queue.byOrigin.set(byId, packet);
        return;
      }
      throw new Error('no such packet');
    },
    async outgoingClearMessageId(client, packet) {
      const queue = queues.get(client.id);
      const origin = packet.messageId === undefined || !queue ? undefined : firstWithId(queue, packet.messageId);
      if (!queue || origin === undefined) return undefined;
      const queued = queue.byOrigin.get(origin);
      queue.byOrigin.delete(origin);
      unindex(queue, packet.messageId!, origin);
      if (queue.byOrigin.size === 0) queues.delete(client.id);
      return queued;
    },
    outgoingStream(client) {
      return [...(queues.get(client.id)?.byOrigin.values() ?? [])];
    },
  };
}

/**
 * Puts the indexed queues into an aedes broker's default in-memory persistence, before any
 * client connects. Only for that persistence: the Redis one (MQTT_CLUSTER) keeps its own.
 */
export function indexOutgoingQueues(persistence: unknown): void {
  const store = (persistence as { asyncPersistence?: Record<string, unknown> }).asyncPersistence;
  if (!store || typeof store['outgoingUpdate'] !== 'function') {
    throw new Error('this aedes-persistence has no asyncPersistence.outgoingUpdate: cannot index its queues');
  }
  Object.assign(store, createOutgoingQueues());
}
